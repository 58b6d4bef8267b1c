#include "server/auth_tokens.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "internal/text_rules.h"

namespace dtx {
namespace {

// Equal strings, in time that depends on the lengths only.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (b.empty()) return a.empty();
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i % b.size()]);
  }
  return diff == 0;
}

}  // namespace

AuthTokens::AuthTokens(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {}

absl::StatusOr<AuthTokens> AuthTokens::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    const std::string why = std::strerror(errno);
    return errno == EACCES ? absl::PermissionDeniedError(absl::StrCat(path, ": ", why))
                           : absl::NotFoundError(absl::StrCat(path, ": ", why));
  }
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::string> tokens;
  int line_number = 0;
  for (absl::string_view split : absl::StrSplit(text.str(), '\n')) {
    ++line_number;
    const std::string line(absl::StripAsciiWhitespace(split));
    if (line.empty() || line[0] == '#') continue;
    if (line.size() < 16 || !internal::IsVisibleAscii(line)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " line ", line_number,
                       ": a token must be 16 or more visible ASCII characters"));
    }
    tokens.emplace_back(line);
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " holds no token"));
  }
  return AuthTokens(std::move(tokens));
}

bool AuthTokens::Admits(std::string_view authorization) const {
  if (tokens_.empty()) return true;
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() < kScheme.size() ||
      !absl::EqualsIgnoreCase(std::string(authorization.substr(0, kScheme.size())),
                              std::string(kScheme))) {
    return false;
  }
  std::string_view presented = authorization.substr(kScheme.size());
  while (!presented.empty() && presented.front() == ' ') presented.remove_prefix(1);
  while (!presented.empty() && presented.back() == ' ') presented.remove_suffix(1);
  bool admitted = false;
  for (const std::string& token : tokens_) {
    admitted = ConstantTimeEquals(presented, token) || admitted;
  }
  return admitted;
}

void WithholdHeaderValues(TransGlobal& global) {
  for (auto& [name, value] : global.options.branch_headers) value = "(withheld)";
}

}  // namespace dtx
