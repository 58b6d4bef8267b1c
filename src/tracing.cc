#include "dtx/tracing.h"

#include "absl/strings/ascii.h"

namespace dtx {
namespace {

// Lowercase hex, not all zeros.
bool HexId(std::string_view s) {
  bool nonzero = false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) {
      return false;
    }
    nonzero = nonzero || c != '0';
  }
  return nonzero;
}

}  // namespace

bool IsValidTraceparent(std::string_view t) {
  // 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>
  if (t.size() != 55 || t.substr(0, 3) != "00-" || t[35] != '-' || t[52] != '-') {
    return false;
  }
  const std::string_view flags = t.substr(53, 2);
  return HexId(t.substr(3, 32)) && HexId(t.substr(36, 16)) &&
         (HexId(flags) || flags == "00");
}

bool IsValidTracestate(std::string_view t) {
  if (t.size() > 512) return false;
  for (char c : t) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace dtx
