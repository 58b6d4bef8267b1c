// dtx::GrpcTransport: the coordinator calls gRPC branches (PROTOCOL.md, "How the
// coordinator calls a branch"). A branch URL is "host:port/package.Service/Method";
// the step's payload is sent as the request message's bytes, as they are (a generic
// call: the coordinator needs none of the service's protos), with metadata dtm-gid,
// dtm-trans_type, dtm-branch_id, dtm-op, dtm-dtm and the branch_headers.
#ifndef DTX_GRPC_GRPC_TRANSPORT_H_
#define DTX_GRPC_GRPC_TRANSPORT_H_

#include <grpcpp/security/credentials.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "dtx/allow_list.h"
#include "dtx/transport.h"

namespace dtx {

struct GrpcTransportOptions {
  // Credentials of every channel. Default: insecure (plaintext).
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Threads that deliver answers to the coordinator (gRPC's own callback threads must
  // not block on the coordinator's database writes). Default: 4.
  int callback_threads = 4;
  // The targets branches may be called at (host:port; names matched as written, not
  // resolved). A URL outside it, or whose target is not a plain host:port, is refused
  // at submit and at call. Default: empty, any target (as DTM).
  AllowList allow;
  // Channels kept open (one per target). Past this many targets, the least recently
  // used channel without a call in flight is closed. Default: 256.
  int max_channels = 256;
};

// Thread-safe. Calls are asynchronous: no thread waits while a call is in flight. One
// channel per target, reused (up to max_channels), with gRPC's own retries off: a call that fails (even one
// that never reached the server) is answered UNAVAILABLE and the coordinator calls it
// again on its retry schedule. The answer is the gRPC status through StatusFromGrpc
// (dtx/result.h): ABORTED is FAILURE, FAILED_PRECONDITION is ONGOING; a deadline past
// request_timeout is DEADLINE_EXCEEDED, an error to retry. A URL it cannot parse is
// kInvalidArgument. The destructor waits for the calls in flight.
class GrpcTransport : public Transport {
 public:
  explicit GrpcTransport(GrpcTransportOptions options = {});
  ~GrpcTransport() override;

  void Call(const BranchRequest& request, Callback done) override;

  // OK for "target/package.Service/Method" in visible ASCII (the method of letters,
  // digits, '.' and '_') and branch_headers that gRPC can send as metadata: keys of
  // letters, digits, '-', '_' and '.' (sent lower-cased), not grpc-*, dtm-*,
  // content-type, te or user-agent (the transport's own); values printable ASCII
  // unless the key ends in -bin. Call refuses the same (kInvalidArgument) instead of
  // handing gRPC what it would abort the process on.
  absl::Status CheckBranch(
      std::string_view url,
      const std::map<std::string, std::string>& headers) const override;

  // Channels open now (for metrics and tests).
  size_t Channels() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Splits "host:port/package.Service/Method" into the channel target "host:port" and
// the method "/package.Service/Method".
absl::Status ParseGrpcUrl(const std::string& url, std::string* target,
                          std::string* method);

}  // namespace dtx

#endif  // DTX_GRPC_GRPC_TRANSPORT_H_
