// dtx::GrpcSubmitter: submits transactions to a remote coordinator's gRPC API
// (dtmgimp.Dtm: dtxd, or a DTM server). Gids stay local (GidGenerator).
#ifndef DTX_GRPC_GRPC_SUBMITTER_H_
#define DTX_GRPC_GRPC_SUBMITTER_H_

#include <grpcpp/security/credentials.h>

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "dtx/submitter.h"

namespace dtx {

struct GrpcSubmitterOptions {
  // The coordinator's gRPC address, e.g. "127.0.0.1:36790".
  std::string target;
  // Default: insecure (plaintext).
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Deadline of each call; a wait_result submit lasts as long as the first pass.
  // Default: 30 s.
  absl::Duration timeout = absl::Seconds(30);
  // Sent as "authorization: Bearer <token>" metadata with every call, for a dtxd
  // started with --auth-token-file. Printable ASCII. Default: empty, none sent.
  std::string auth_token;
};

// Thread-safe. Every call answers as Submitter says; ABORTED "wait result not return
// success" becomes ONGOING, dtxd's "already succeeded" kAlreadyExists. Durations
// travel in whole seconds (rounded up), as DTM's gRPC API has them. Query is a call of
// dtxd's own: DTM's gRPC API has none (a DTM server answers kUnimplemented; use
// HttpSubmitter::Query against DTM).
class GrpcSubmitter : public Submitter {
 public:
  explicit GrpcSubmitter(GrpcSubmitterOptions options);
  ~GrpcSubmitter() override;

  absl::Status Submit(const TransGlobal& global) override;
  absl::Status Prepare(const TransGlobal& global) override;
  absl::Status RegisterBranch(const TccBranch& branch) override;
  absl::Status Abort(const TransGlobal& global) override;
  absl::StatusOr<TransactionState> Query(std::string_view gid) override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dtx

#endif  // DTX_GRPC_GRPC_SUBMITTER_H_
