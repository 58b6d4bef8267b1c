// Serving saga branches over HTTP: the branch side of PROTOCOL.md.
//
//   dtx::HttpBranchServer server;
//   server.Handle("/TransOut", [&](const dtx::BranchInfo& info, const httplib::Request&
//   req) {
//     soci::session sql(pool);
//     return dtx::Barrier(info).Call(sql, [&](soci::session& tx) { ...; return
//     absl::OkStatus(); });
//   });
//   absl::StatusOr<int> port = server.Start();  // 127.0.0.1, a free port
#ifndef DTX_HTTP_HTTP_BRANCH_H_
#define DTX_HTTP_HTTP_BRANCH_H_

#include <httplib.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dtx/branch_info.h"

namespace dtx {
namespace internal {
class HttpServer;
}  // namespace internal

// The gid, trans_type, branch_id and op query parameters; kInvalidArgument names the
// first one missing.
absl::StatusOr<BranchInfo> BranchInfoFromRequest(const httplib::Request& request);

// Answers with `status` in the result vocabulary: 200/409/425 with DTM's JSON body,
// or HttpStatusOf(status) with {"message":..}.
void WriteResult(const absl::Status& status, httplib::Response& response);

// A branch op's business: OK is SUCCESS, FailureError is FAILURE, OngoingError is
// ONGOING, anything else an error the coordinator retries.
using BranchHandler =
    std::function<absl::Status(const BranchInfo& info, const httplib::Request& request)>;

// Serves `handler` at `path` for POST and GET. A request without the branch query
// parameters gets 400; an exception thrown by the handler becomes a 500.
void ServeBranch(httplib::Server& server, const std::string& path, BranchHandler handler);

// Makes `server` answer its own errors as JSON {"message":..}: 413 for a body over the
// payload limit, 404 for an unknown path, 400 for what it could not parse, and 500
// for an exception escaping a handler. Answers a handler wrote are left alone.
void AnswerErrorsAsJson(httplib::Server& server);

// Binds `server` to host:port (port 0: any free port) with a listen backlog of
// `backlog` and returns the port. cpp-httplib as Debian builds it listens with a
// backlog of 5, which drops connections under a burst of clients; this raises it.
// Also sets TCP_NODELAY on the server's connections (cpp-httplib writes an answer's
// head and body apart; with Nagle's algorithm the body waits for a delayed ACK).
// kUnavailable when the address cannot be bound. Call listen_after_bind() next.
absl::StatusOr<int> BindServer(httplib::Server& server, const std::string& host, int port,
                               int backlog = 1024);

// Serves branches over HTTP/1.1 on its own threads, bound to loopback unless told
// otherwise: a thread per connection, each answer in one write (40-45% less CPU per
// exchange than an httplib::Server here; bench/http_floor). Request bodies over 16 MiB
// get 413, unknown paths 404, all as JSON {"message":..}.
// Handle() before Start(); Start() and Stop() from one thread. Stop() (or the
// destructor) closes idle connections and waits for the requests being served.
class HttpBranchServer {
 public:
  // `threads` connections are served at once; past that a new connection waits for a
  // busy one to finish, or takes the place of one idling between requests (closed for
  // it; its client reconnects). Default: 32.
  explicit HttpBranchServer(int threads = 32);
  ~HttpBranchServer();

  // Serves `handler` at `path` for POST and GET, as ServeBranch does.
  void Handle(const std::string& path, BranchHandler handler);

  // Listens on host:port (port 0: any free port) and returns the port.
  absl::StatusOr<int> Start(const std::string& host = "127.0.0.1", int port = 0);
  void Stop();

 private:
  std::unique_ptr<internal::HttpServer> server_;
};

}  // namespace dtx

#endif  // DTX_HTTP_HTTP_BRANCH_H_
