// An HTTP/1.1 server for dtx's own endpoints (dtxd's API, HttpBranchServer): a thread
// per connection at work, which reads with blocking recv and answers each request in
// one send; a request of an asynchronous route (PostAsync) can be parked, holding no
// thread until its reply.
// Handlers see dtx::HttpRequest and write dtx::HttpResponse (dtx/http/http_message.h).
// 40-45% less CPU per loopback exchange than cpp-httplib's server, which polls before
// every read and every write and writes an answer's head and body apart, so the
// caller wakes twice (bench/http_floor measures both).
//
// Requests are parsed by Boost.Beast's HTTP parser, fed from the connection's buffer
// (the loop, the reads and the writes are this server's). What it speaks: request
// bodies with Content-Length or chunked transfer coding, `Expect: 100-continue`,
// keep-alive (HTTP/1.1 default; HTTP/1.0 with `Connection: keep-alive`), pipelined
// requests. What a proxy in front could read differently is refused (RFC 9112):
// Content-Length with Transfer-Encoding, Content-Length twice or signed, chunk sizes
// that are not plain hex, a transfer coding other than chunked, HTTP/1.1 without
// exactly one Host. Routes are exact paths for GET and POST; the query string is
// parsed into HttpRequest::params. Its own errors are JSON {"message":..}: 400 for what
// it cannot parse, 404 for an unknown path, 405 for a method a path does not serve,
// 413 for a body over max_body_bytes, 431 for a head over 64 KiB, 500 for an
// exception escaping a handler. After a 400, 413 or 431 the connection is closed.
// With TLS (OpenSSL; HttpServerOptions::tls_*), the handshake must end within
// request_timeout, and reads and writes run on a non-blocking socket, each bounded as
// a whole. Connection threads block SIGPIPE (TLS writes with write(2)).
#ifndef DTX_HTTP_HTTP_SERVER_H_
#define DTX_HTTP_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dtx/http/http_message.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace dtx::internal {

struct HttpServerOptions {
  // Connections served at once, a thread each (a connection whose request is parked,
  // PostAsync, holds none and is not counted). Past that, new connections wait in
  // the listen backlog; one that idles between requests is closed to make room for
  // one waiting. Default: 32.
  int threads = 32;
  // Larger request bodies are refused with 413. Default: 16 MiB.
  size_t max_body_bytes = size_t{16} << 20;
  // A connection that sends nothing for this long is closed, and so is one whose
  // peer does not take an answer for this long. Default: 5 s.
  absl::Duration idle_timeout = absl::Seconds(5);
  // A request must arrive whole within this long of its first byte, or its connection
  // is closed (up to idle_timeout later): a peer trickling bytes cannot hold a thread
  // for ever. Default: 30 s.
  absl::Duration request_timeout = absl::Seconds(30);
  int backlog = 1024;  // the listen backlog
  // Connections served at once from one client address; one more is closed at once
  // (a plain-HTTP one after a 503 answer), so that one client cannot take every
  // thread. Clients behind one NAT or proxy share an address. Default: 0, no limit
  // (a branch server's calls all come from its coordinator).
  int max_connections_per_address = 0;
  // TLS (1.2 or later) on every connection when both are set: PEM files of the
  // certificate chain and its private key. With tls_client_ca_file, a client must show
  // a certificate signed by a CA in it (mutual TLS). Default: empty, plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  // Told of every answer: the route (a path given to Get, Post or PostAsync; "other"
  // for any other path and for requests refused before routing) and the status.
  // Called on the answering thread before the answer is written; thread-safe, short.
  // Default: none.
  std::function<void(std::string_view route, int status)> on_answer;
};

using HttpHandler = dtx::HttpHandler;

// Sends the answer to a request whose handler returned without one. Callable from any
// thread; the first call counts, later ones do nothing.
using HttpReply = std::function<void(HttpResponse)>;
// Answers a request now or later through `reply`. Returning before replying parks the
// request: its connection's thread is let go (it no longer counts against `threads`)
// until the reply, which writes the answer on a new thread that then serves the
// connection on. The request is gone once the handler returns: keep what you need.
// `reply` must be called some day: Stop() waits for it.
using AsyncHttpHandler = std::function<void(const HttpRequest&, HttpReply reply)>;

// Routes are added before Start(); Start and Stop are called from one thread. Handlers
// run on the connection's thread, concurrently with each other.
class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options = {});
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void Get(const std::string& path, HttpHandler handler);
  void Post(const std::string& path, HttpHandler handler);
  // A POST route answered through an HttpReply (in place of Post's handler).
  void PostAsync(const std::string& path, AsyncHttpHandler handler);

  // Listens on host:port (port 0: any free port) and returns the port; kUnavailable
  // when the address cannot be bound, kInvalidArgument when the TLS files cannot be
  // loaded. Serving starts at once.
  absl::StatusOr<int> Start(const std::string& host, int port);

  // Stops accepting, closes idle connections, and waits for the requests being
  // served to be answered, parked ones too. The server cannot be started again.
  void Stop();

 private:
  struct Session;  // a connection's stream and read-ahead (http_server.cc)
  struct Pending;  // a request answered through an HttpReply
  struct Connection {
    int fd = -1;
    std::string peer_address;
    int peer_port = -1;
    std::thread thread;
    // The thread that parked the connection's request, joined by the one that
    // answers it (Resume).
    std::thread parker;
    bool done = false;  // its thread has finished serving and closed fd
    // Waiting for the next request, none of it read yet: may be closed to make room,
    // once it has had a request or kFirstRequestGrace has passed since it was
    // accepted (a client that just connected is about to send its first).
    std::atomic<bool> idle{false};
    std::atomic<bool> had_request{false};
    absl::Time accepted = absl::InfinitePast();
    std::unique_ptr<Session> session;  // set once the connection is open (TLS: after
                                       // its handshake)
  };
  struct Route {
    HttpHandler get, post;
    AsyncHttpHandler post_async;
  };

  void AcceptLoop();
  // A connection's thread: opens it (TLS handshake), then Converse.
  void Serve(Connection* connection);
  // Reads and answers the connection's requests until it ends (End), or until one
  // is parked.
  void Converse(Connection* connection);
  // Runs an AsyncHttpHandler: its answer if it replied before returning, else nullopt
  // with the request parked (counted in parked_, not serving_).
  // `route`: the route's path, which lives as long as the server.
  std::optional<HttpResponse> Defer(Connection* connection, const HttpRequest& request,
                                    std::string_view route,
                                    const AsyncHttpHandler& handler);
  // The reply to a parked request: a new thread for the connection writes it and
  // serves on.
  void Resume(Connection* connection, HttpResponse response) ABSL_LOCKS_EXCLUDED(mu_);
  // Closes the connection (draining a refused request's rest) and marks it done.
  void End(Connection* connection) ABSL_LOCKS_EXCLUDED(mu_);
  // Joins the threads of the connections that are done (their sockets are closed).
  void Reap() ABSL_LOCKS_EXCLUDED(mu_);
  // All threads busy: while a connection waits to be accepted, closes one that idles
  // between requests (HTTP lets a server close an idle keep-alive connection), so that
  // idle keep-alive connections do not keep new ones out until their idle_timeout.
  void MakeRoom() ABSL_LOCKS_EXCLUDED(mu_);
  void Dispatch(const HttpRequest& request, HttpResponse& response) const;
  absl::Status LoadTls();

  const HttpServerOptions options_;
  absl::flat_hash_map<std::string, Route> routes_;  // fixed once started
  int listen_fd_ = -1;
  std::thread acceptor_;
  ssl_ctx_st* tls_ = nullptr;  // SSL_CTX; null: plain

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int serving_ ABSL_GUARDED_BY(mu_) = 0;  // connections with a thread at work
  int parked_ ABSL_GUARDED_BY(mu_) = 0;   // connections waiting for an HttpReply

  std::list<Connection> connections_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dtx::internal

#endif  // DTX_HTTP_HTTP_SERVER_H_
