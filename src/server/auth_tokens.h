// The bearer tokens that admit a client to dtxd's APIs (--auth-token-file).
#ifndef DTX_SERVER_AUTH_TOKENS_H_
#define DTX_SERVER_AUTH_TOKENS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "dtx/transaction.h"

namespace dtx {

// Immutable, thread-safe. An empty set admits everyone (no authentication).
class AuthTokens {
 public:
  AuthTokens() = default;
  explicit AuthTokens(std::vector<std::string> tokens);

  // One token per line; blank lines and lines starting with '#' are skipped, spaces
  // around a token dropped. kNotFound / kPermissionDenied when the file cannot be
  // read; kInvalidArgument when it holds no token, or a token shorter than 16
  // characters or with a character outside visible ASCII.
  static absl::StatusOr<AuthTokens> FromFile(const std::string& path);

  bool enabled() const { return !tokens_.empty(); }

  // Whether `authorization` (an HTTP Authorization header or gRPC "authorization"
  // metadata) is "Bearer <token>" for one of the tokens. Every token is compared,
  // each in time that depends on lengths only, so the answer's timing tells nothing of
  // a token's characters. True when the set is empty.
  bool Admits(std::string_view authorization) const;

 private:
  std::vector<std::string> tokens_;
};

// What a caller without a token sees of a transaction's branch_headers (they may
// carry the branches' credentials): the names, each value "(withheld)".
void WithholdHeaderValues(TransGlobal& global);

}  // namespace dtx

#endif  // DTX_SERVER_AUTH_TOKENS_H_
