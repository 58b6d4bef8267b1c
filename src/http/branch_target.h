// What an HTTP branch may be: the URL and branch_headers rules that HttpTransport
// applies at submit (Transport::CheckBranch) and before every call.
#ifndef DTX_HTTP_BRANCH_TARGET_H_
#define DTX_HTTP_BRANCH_TARGET_H_

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace dtx::internal {

struct BranchTarget {
  bool https = false;
  std::string host;    // a name, an IPv4 address, or an IPv6 address without brackets
  int port = 0;        // 80 or 443 unless the URL says
  std::string origin;  // scheme://host[:port] as written
  std::string path;    // /path[?query], "/" when the URL has none
};

// Parses a branch URL: "http://" or "https://", a host (letters, digits, '-', '.',
// '_', or a bracketed IPv6 address), an optional port 1-65535, then a path and query of
// visible ASCII (no space, no control character, nothing above 0x7E). A fragment is
// not sent. kInvalidArgument names what is wrong.
absl::StatusOr<BranchTarget> ParseBranchUrl(std::string_view url);

// branch_headers as HTTP fields: names RFC 9110 tokens, values without control
// characters (HTAB allowed), and none of the fields that frame a request or name its
// connection (Content-Length, Transfer-Encoding, Host, Connection, ...): those are the
// transport's. kInvalidArgument names the first offender.
absl::Status CheckHttpHeaders(const std::map<std::string, std::string>& headers);

}  // namespace dtx::internal

#endif  // DTX_HTTP_BRANCH_TARGET_H_
