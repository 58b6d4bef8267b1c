// dtx::HttpSubmitter: submits transactions to a remote coordinator's HTTP API (dtxd, or
// a DTM server) with DTM's JSON. Gids stay local (GidGenerator).
#ifndef DTX_HTTP_HTTP_SUBMITTER_H_
#define DTX_HTTP_HTTP_SUBMITTER_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "dtx/submitter.h"

namespace dtx {

struct HttpSubmitterOptions {
  // The coordinator, e.g. "http://127.0.0.1:36789" or "https://dtx.example:36789" (a
  // trailing '/' is dropped).
  std::string server;
  // Per request; a wait_result submit lasts as long as the saga's first pass.
  // Default: 30 s.
  absl::Duration timeout = absl::Seconds(30);
  // Sent as "Authorization: Bearer <token>" with every request, for a dtxd started
  // with --auth-token-file. Default: empty, none sent.
  std::string auth_token;
  // For an https server: its certificate is verified against the CAs in this PEM file;
  // empty: the system's store. Default: empty.
  std::string ca_file;
};

// Thread-safe; keeps connections alive. Every call answers as Submitter says: the
// server's 409 "wait result not return success" becomes ONGOING, dtxd's 409 "already
// succeeded" kAlreadyExists, other 409s FAILURE, 400 kInvalidArgument, 401
// kUnauthenticated, 404 kNotFound, 501 kUnimplemented, an unreachable server or 5xx
// kUnavailable. Query reads the server's `query` (dtxd's and DTM's alike).
class HttpSubmitter : public Submitter {
 public:
  explicit HttpSubmitter(HttpSubmitterOptions options);
  ~HttpSubmitter() override;

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

#endif  // DTX_HTTP_HTTP_SUBMITTER_H_
