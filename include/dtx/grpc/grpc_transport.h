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
#include "dtx/transport.h"

namespace dtx {

struct GrpcTransportOptions {
  // Credentials of every channel. Default: insecure (plaintext).
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Threads that deliver answers to the coordinator (gRPC's own callback threads must
  // not block on the coordinator's database writes). Default: 4.
  int callback_threads = 4;
};

// Thread-safe. Calls are asynchronous: no thread waits while a call is in flight. One
// channel per target, reused, with gRPC's own retries off: a call that fails (even one
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
