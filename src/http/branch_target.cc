#include "http/branch_target.h"

#include <algorithm>
#include <charconv>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "internal/text_rules.h"

namespace dtx::internal {
namespace {

// Quoted in messages: at most 100 bytes, control characters shown as '?'.
std::string Quote(std::string_view s) { return "'" + Excerpt(s, 100) + "'"; }

bool IsHostChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
         c == '_';
}

}  // namespace

absl::StatusOr<BranchTarget> ParseBranchUrl(std::string_view url) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("branch URL ", Quote(url), ": ", std::string(why)));
  };
  if (!IsVisibleAscii(url)) {
    return bad("holds a space, a control character or a non-ASCII byte");
  }
  BranchTarget t;
  std::string_view rest;
  if (absl::StartsWithIgnoreCase(std::string(url.substr(0, 7)), "http://")) {
    rest = url.substr(7);
  } else if (absl::StartsWithIgnoreCase(std::string(url.substr(0, 8)), "https://")) {
    t.https = true;
    rest = url.substr(8);
  } else {
    return bad("the scheme must be http:// or https://");
  }
  const size_t path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  t.origin = (t.https ? "https://" : "http://") + std::string(authority);
  if (authority.find('@') != std::string_view::npos) return bad("user info is not sent");
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("an IPv6 address lacks its ']'");
    t.host = std::string(authority.substr(1, close - 1));
    if (t.host.empty() || !std::all_of(t.host.begin(), t.host.end(), [](char c) {
          return absl::ascii_isxdigit(static_cast<unsigned char>(c)) || c == ':' ||
                 c == '.';
        })) {
      return bad("not an IPv6 address between '[' and ']'");
    }
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return bad("text after ']' that is not a port");
      has_port = true;
      port = authority.substr(close + 2);
    }
  } else {
    const size_t colon = authority.find(':');
    t.host = std::string(authority.substr(0, colon));
    has_port = colon != std::string_view::npos;
    if (has_port) port = authority.substr(colon + 1);
    if (t.host.empty()) return bad("no host");
    if (!std::all_of(t.host.begin(), t.host.end(), IsHostChar)) {
      return bad("the host may hold letters, digits, '-', '.' and '_' only");
    }
  }
  t.port = t.https ? 443 : 80;
  if (has_port) {
    int p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p < 1 ||
        p > 65535) {
      return bad("the port must be a number from 1 to 65535");
    }
    t.port = p;
  }
  std::string_view path =
      path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  path = path.substr(0, path.find('#'));  // a fragment stays with the client
  t.path = path.empty() || path[0] != '/' ? "/" + std::string(path) : std::string(path);
  return t;
}

absl::Status CheckHttpHeaders(const std::map<std::string, std::string>& headers) {
  static constexpr std::string_view kReserved[] = {"content-length",
                                                   "transfer-encoding",
                                                   "host",
                                                   "connection",
                                                   "keep-alive",
                                                   "proxy-connection",
                                                   "te",
                                                   "trailer",
                                                   "upgrade",
                                                   "expect"};
  for (const auto& [name, value] : headers) {
    if (!IsToken(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("branch header name ", Quote(name),
                       " is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~)"));
    }
    const std::string lower = absl::AsciiStrToLower(name);
    if (std::find(std::begin(kReserved), std::end(kReserved), lower) !=
        std::end(kReserved)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "branch header ", Quote(name), " is set by the transport, not by a client"));
    }
    if (!IsFieldValue(value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "branch header ", Quote(name), " has a control character in its value"));
    }
  }
  return absl::OkStatus();
}

}  // namespace dtx::internal
