// Serving saga branches over HTTP: the branch side of PROTOCOL.md.
//
//   dtx::HttpBranchServer server;
//   server.Handle("/TransOut", [&](const dtx::BranchInfo& info,
//                                  const dtx::HttpRequest& req) {
//     soci::session sql(pool);
//     return dtx::Barrier(info).Call(sql, [&](soci::session& tx) {
//       ...;  // req.body holds the step's payload
//       return absl::OkStatus();
//     });
//   });
//   server.Get("/healthz", [](const dtx::HttpRequest&, dtx::HttpResponse& res) {
//     res.SetBody("ok", "text/plain");
//   });
//   absl::StatusOr<int> port = server.Start();  // 127.0.0.1, a free port
#ifndef DTX_HTTP_HTTP_BRANCH_H_
#define DTX_HTTP_HTTP_BRANCH_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dtx/branch_info.h"
#include "dtx/http/http_message.h"
#include "dtx/log.h"

namespace dtx {
namespace internal {
class HttpServer;
}  // namespace internal

// The gid, trans_type, branch_id and op query parameters; kInvalidArgument names the
// first one missing.
absl::StatusOr<BranchInfo> BranchInfoFromRequest(const HttpRequest& request);

// Answers with `status` in the result vocabulary: 200/409/425 with DTM's JSON body,
// or HttpStatusOf(status) with {"message":..}.
void WriteResult(const absl::Status& status, HttpResponse& response);

// A branch op's business: OK is SUCCESS, FailureError is FAILURE, OngoingError is
// ONGOING, anything else an error the coordinator retries. Runs on a server thread,
// concurrently with other handlers.
using BranchHandler =
    std::function<absl::Status(const BranchInfo& info, const HttpRequest& request)>;

struct HttpBranchServerOptions {
  // Connections served at once, a thread each. Past that a new connection waits for
  // a busy one to finish, or takes the place of one idling between requests (closed
  // for it; its client reconnects). Default: 32.
  int threads = 32;
  // Larger request bodies get 413. Default: 16 MiB.
  size_t max_body_bytes = size_t{16} << 20;
  // A connection silent this long between requests is closed. Default: 5 s.
  absl::Duration idle_timeout = absl::Seconds(5);
  // A request must arrive whole within this long of its first byte (a TLS handshake
  // too), or its connection is closed. Default: 30 s.
  absl::Duration request_timeout = absl::Seconds(30);
  // Connections served at once from one client address (0: no limit); one more is
  // closed at once (after a 503 answer on plain HTTP). Default: 0 (a branch server's calls come from its
  // coordinators).
  int max_connections_per_address = 0;
  // TLS 1.2+ when both are set: PEM files of the certificate chain and its key. With
  // tls_client_ca_file, clients must show a certificate signed by a CA in it.
  // Default: empty, plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  // Where the server logs (dtx/log.h): debug "branch" per call (gid, trans_type,
  // branch_id, op, path, result); warn "branch error" when a handler answers an error
  // or throws, and "bad branch request" when a request lacks the branch parameters,
  // each rate-limited per (path, code). Not owned; must outlive the server. Default:
  // none.
  Logger* logger = nullptr;
};

// Serves branches, and plain routes of the user's own, over HTTP/1.1 on its own
// threads, bound to loopback unless told otherwise: a thread per connection, each
// answer in one write, TCP_NODELAY on every connection (40-45% less CPU per exchange
// than a server that polls before each read and write; bench/http_floor). Requests
// are parsed by Boost.Beast's parser; what a proxy could read differently (request
// smuggling) is refused.
// Unknown paths get 404, other methods on a path 405, bodies over max_body_bytes 413,
// heads over 64 KiB 431, unparsable requests 400, all as JSON {"message":..}. A
// handler's headers that are not valid fields (names not tokens, values with control
// characters) are dropped, and so are Content-Length, Transfer-Encoding and
// Connection: the server frames the answer.
// Routes are added before Start(); Start() and Stop() from one thread. Stop() (or the
// destructor) closes idle connections and waits for the requests being served.
class HttpBranchServer {
 public:
  explicit HttpBranchServer(int threads = 32);
  explicit HttpBranchServer(HttpBranchServerOptions options);
  ~HttpBranchServer();
  HttpBranchServer(const HttpBranchServer&) = delete;
  HttpBranchServer& operator=(const HttpBranchServer&) = delete;

  // Serves `handler` at `path` for POST and GET. A request without the branch query
  // parameters gets 400 and does not reach the handler; an exception thrown by the
  // handler is answered as an error (500), which the coordinator retries.
  void Handle(const std::string& path, BranchHandler handler);

  // A plain route at `path` (an exact path) for GET or POST.
  void Get(const std::string& path, HttpHandler handler);
  void Post(const std::string& path, HttpHandler handler);

  // Listens on host:port (port 0: any free port) and returns the port; kUnavailable
  // when the address cannot be bound, kInvalidArgument when the TLS files cannot be
  // loaded.
  absl::StatusOr<int> Start(const std::string& host = "127.0.0.1", int port = 0);
  void Stop();

 private:
  class CallLog;  // logger and rate limit (http_branch.cc)
  std::unique_ptr<internal::HttpServer> server_;
  std::shared_ptr<CallLog> log_;  // null without a logger
};

}  // namespace dtx

#endif  // DTX_HTTP_HTTP_BRANCH_H_
