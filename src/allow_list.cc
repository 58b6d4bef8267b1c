#include "dtx/allow_list.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace dtx {
namespace {

// An IPv4 or IPv6 address into 16 bytes (IPv4 in the first 4); false if neither.
bool ParseAddress(std::string_view text, unsigned char out[16], bool* v6) {
  const std::string s(text);
  std::memset(out, 0, 16);
  if (inet_pton(AF_INET, s.c_str(), out) == 1) {
    *v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out) == 1) {
    *v6 = true;
    return true;
  }
  return false;
}

bool ParseNumber(std::string_view text, int lo, int hi, int* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size() &&
         *out >= lo && *out <= hi;
}

bool IsName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' &&
        c != '_') {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<AllowList> AllowList::Parse(const std::vector<std::string>& entries) {
  AllowList list;
  for (const std::string& text : entries) {
    const auto bad = [&](std::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("allow-list entry '", text, "': ", std::string(why)));
    };
    Entry e;
    std::string_view host = text, port;
    if (const size_t slash = text.find('/'); slash != std::string::npos) {
      int bits = 0;
      if (!ParseAddress(host.substr(0, slash), e.address, &e.v6) ||
          !ParseNumber(host.substr(slash + 1), 0, e.v6 ? 128 : 32, &bits)) {
        return bad("not a CIDR block (address/bits)");
      }
      e.prefix = bits;
      list.entries_.push_back(e);
      continue;
    }
    if (!host.empty() && host[0] == '[') {  // [v6] or [v6]:port
      const size_t close = host.find(']');
      if (close == std::string_view::npos) return bad("no ']'");
      if (close + 1 < host.size()) {
        if (host[close + 1] != ':') return bad("text after ']' that is not a port");
        port = host.substr(close + 2);
      }
      host = host.substr(1, close - 1);
    } else if (std::count(host.begin(), host.end(), ':') == 1) {  // host:port
      const size_t colon = host.find(':');
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
    if (!port.empty() && port != "*" && !ParseNumber(port, 1, 65535, &e.port)) {
      return bad("the port must be 1-65535 or '*'");
    }
    if (ParseAddress(host, e.address, &e.v6)) {
      e.prefix = e.v6 ? 128 : 32;
    } else {
      e.is_name = true;
      e.wildcard = host.substr(0, 2) == "*.";
      if (e.wildcard) host.remove_prefix(1);  // "*.svc" -> ".svc"
      if (!IsName(e.wildcard ? host.substr(1) : host)) {
        return bad("neither an address, a CIDR block nor a host name");
      }
      e.name = absl::AsciiStrToLower(std::string(host));
    }
    list.entries_.push_back(std::move(e));
  }
  return list;
}

bool AllowList::Allows(std::string_view host, int port) const {
  if (entries_.empty()) return true;
  unsigned char address[16];
  bool v6 = false;
  const bool is_address = ParseAddress(host, address, &v6);
  const std::string name =
      is_address ? std::string() : absl::AsciiStrToLower(std::string(host));
  for (const Entry& e : entries_) {
    if (e.port != 0 && e.port != port) continue;
    if (e.is_name) {
      if (is_address) continue;
      if (e.wildcard ? absl::EndsWith(name, e.name) && name.size() > e.name.size()
                     : name == e.name) {
        return true;
      }
      continue;
    }
    if (!is_address || e.v6 != v6) continue;
    const int full = e.prefix / 8, rest = e.prefix % 8;
    if (std::memcmp(address, e.address, full) != 0) continue;
    if (rest != 0) {
      const unsigned char mask = static_cast<unsigned char>(0xFF << (8 - rest));
      if ((address[full] & mask) != (e.address[full] & mask)) continue;
    }
    return true;
  }
  return false;
}

}  // namespace dtx
