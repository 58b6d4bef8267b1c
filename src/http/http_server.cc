#include "http/http_server.h"

// Boost 1.74's Asio headers need <utility> first under C++20.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cerrno>
#include <exception>
#include <optional>
#include <system_error>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "dtx/result.h"
#include "http/query_string.h"
#include "internal/text_rules.h"
#include "http/wait_for.h"

namespace dtx::internal {
namespace {

constexpr size_t kMaxHead = 64 * 1024;  // request line and headers

// The reason phrase of a status (Beast's table; "Unknown" for one it lacks).
std::string Reason(int status) {
  const boost::beast::string_view reason = boost::beast::http::obsolete_reason(
      boost::beast::http::int_to_status(static_cast<unsigned>(status)));
  return std::string(reason.data(), reason.size());
}

// What a connection past max_connections_per_address gets before it is closed.
constexpr std::string_view kTooManyConnections =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    "Content-Length: 52\r\nConnection: close\r\n\r\n"
    "{\"message\":\"too many connections from this address\"}";

// A request this server refuses to serve: the status and the message it answers.
struct Refusal {
  int status;
  const char* message;
};

// A connection's bytes: the socket itself, or TLS over it. Plain reads and writes
// block for at most the socket's SO_RCVTIMEO / SO_SNDTIMEO (idle_timeout). TLS runs on
// a non-blocking socket, each read and write bounded as a whole, so that a peer
// trickling the bytes of one TLS record cannot stretch a read past its limits.
class Stream {
 public:
  Stream(int fd, SSL* ssl, absl::Duration io_timeout)
      : fd_(fd), ssl_(ssl), io_timeout_(io_timeout) {}

  // Bytes read (> 0); 0 at the end of the stream; -1 on an error, or when nothing came
  // within io_timeout, or by `deadline` (TLS; plain reads check it after).
  ssize_t Read(char* buf, size_t n, absl::Time deadline) {
    if (ssl_ == nullptr) {
      while (true) {
        const ssize_t got = recv(fd_, buf, n, 0);
        if (got < 0 && errno == EINTR) continue;
        return got < 0 ? -1 : got;
      }
    }
    const absl::Time until = std::min(deadline, absl::Now() + io_timeout_);
    while (true) {
      const int got = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(n, 1 << 30)));
      if (got > 0) return got;
      const int error = SSL_get_error(ssl_, got);
      if (error == SSL_ERROR_ZERO_RETURN) return 0;
      if (!Await(error, until)) return -1;
    }
  }

  // False when the peer is gone or took nothing for io_timeout.
  bool WriteAll(std::string_view bytes) {
    for (size_t sent = 0; sent < bytes.size();) {
      ssize_t n;
      if (ssl_ == nullptr) {
        n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
      } else {
        n = SSL_write(ssl_, bytes.data() + sent,
                      static_cast<int>(std::min<size_t>(bytes.size() - sent, 1 << 30)));
        if (n <= 0 &&
            Await(SSL_get_error(ssl_, static_cast<int>(n)), absl::Now() + io_timeout_)) {
          continue;
        }
      }
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // The TLS handshake, done by `until`.
  static bool Handshake(SSL* ssl, int fd, absl::Time until) {
    while (true) {
      const int done = SSL_accept(ssl);
      if (done == 1) return true;
      const int error = SSL_get_error(ssl, done);
      const short events = error == SSL_ERROR_WANT_READ    ? POLLIN
                           : error == SSL_ERROR_WANT_WRITE ? POLLOUT
                                                           : 0;
      if (events == 0 || !WaitFor(fd, events, until)) return false;
    }
  }

 private:
  // After an SSL call asked for more: waits for the socket; false for other errors.
  bool Await(int ssl_error, absl::Time until) {
    if (ssl_error == SSL_ERROR_WANT_READ) return WaitFor(fd_, POLLIN, until);
    if (ssl_error == SSL_ERROR_WANT_WRITE) return WaitFor(fd_, POLLOUT, until);
    return ssl_error == SSL_ERROR_SYSCALL && errno == EINTR;
  }

  const int fd_;
  SSL* const ssl_;
  const absl::Duration io_timeout_;
};

// The bytes of a connection, read on demand. recv blocks for at most the socket's
// SO_RCVTIMEO.
class Input {
 public:
  // `request_limit`: how long a request may take to arrive, from its first byte.
  Input(Stream& stream, absl::Duration request_limit)
      : stream_(stream), request_limit_(request_limit) {}

  // Starts the clock of the next request: at once if some of it is here already,
  // else at its first byte.
  void NextRequest() {
    deadline_ = Pending().empty() ? absl::InfiniteFuture() : absl::Now() + request_limit_;
  }

  // Reads more; false on end of stream, timeout, error, or a request past its limit
  // (checked as bytes come: a recv may wait up to SO_RCVTIMEO past it).
  bool Fill() {
    if (pos_ > 0 && pos_ == buf_.size()) {
      buf_.clear();
      pos_ = 0;
    }
    char chunk[16384];
    while (true) {
      if (absl::Now() > deadline_) return false;
      const ssize_t n = stream_.Read(chunk, sizeof(chunk), deadline_);
      if (n <= 0) return false;
      buf_.append(chunk, static_cast<size_t>(n));
      if (deadline_ == absl::InfiniteFuture()) {
        deadline_ = absl::Now() + request_limit_;
      } else if (absl::Now() > deadline_) {
        return false;
      }
      return true;
    }
  }
  // Unread bytes.
  std::string_view Pending() const { return std::string_view(buf_).substr(pos_); }
  void Consume(size_t n) { pos_ += n; }

 private:
  Stream& stream_;
  const absl::Duration request_limit_;
  absl::Time deadline_ = absl::InfiniteFuture();
  std::string buf_;
  size_t pos_ = 0;
};

struct ReadResult {
  bool closed = false;
  std::optional<Refusal> refusal;
  bool keep_alive = false;  // the request lets the connection carry the next one
};

// What Beast's parser lets through and a proxy in front could frame differently (RFC
// 9112): an HTTP/1.1 request without exactly one Host (3.2; two in any version);
// identical Content-Lengths twice, or "5, 5"; a coding list such as "gzip, chunked";
// Transfer-Encoding on HTTP/1.0, where it frames nothing (6.1). Only one plain
// Content-Length, or one "chunked", is read. nullopt when the head is fine.
std::optional<Refusal> CheckFraming(
    const boost::beast::http::request_parser<boost::beast::http::string_body>& parser) {
  namespace http = boost::beast::http;
  const auto& head = parser.get();
  const size_t hosts = head.count(http::field::host);
  if (hosts > 1 || (head.version() == 11 && hosts == 0)) {
    return Refusal{400, "a request needs exactly one Host header"};
  }
  const size_t lengths = head.count(http::field::content_length);
  if (lengths > 1 || (lengths == 1 && head[http::field::content_length].find(',') !=
                                          boost::beast::string_view::npos)) {
    return Refusal{400, "more than one Content-Length"};
  }
  const size_t codings = head.count(http::field::transfer_encoding);
  if (codings > 1 || (codings == 1 &&
                      (head.version() != 11 ||
                       !absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(std::string(
                                                   head[http::field::transfer_encoding])),
                                               "chunked")))) {
    return Refusal{400, "unsupported transfer coding"};
  }
  if (head.version() != 11 && head.version() != 10) {
    return Refusal{400, "unsupported HTTP version"};
  }
  return std::nullopt;
}

// Reads the next request of a connection with Boost.Beast's parser, fed from `in`.
// `closed` when the connection ended (or timed out) before a whole request came; a
// refusal for a request this server does not serve. `idle` is cleared when the
// request's first bytes arrive.
ReadResult ReadRequest(Stream& stream, Input& in, size_t max_body,
                       std::atomic<bool>* idle, HttpRequest* request) {
  namespace http = boost::beast::http;
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(kMaxHead));
  parser.body_limit(max_body);
  bool header_checked = false;
  size_t head_consumed = 0;  // bytes of the head the parser took so far
  while (!parser.is_done()) {
    if (!parser.got_some()) {
      // Empty lines before the request line are allowed (RFC 9112, 2.2).
      while (in.Pending().substr(0, 2) == "\r\n") in.Consume(2);
    }
    boost::system::error_code ec = http::error::need_more;
    if (!in.Pending().empty()) {
      const size_t used = parser.put(
          boost::asio::const_buffer(in.Pending().data(), in.Pending().size()), ec);
      in.Consume(used);
      if (!parser.is_header_done()) head_consumed += used;
    }
    // Beast 1.74 applies header_limit to the part of the head not yet taken only: a
    // head sent a few lines at a time could grow without bound. Count it whole.
    if (!parser.is_header_done() && head_consumed + in.Pending().size() > kMaxHead) {
      return {.refusal = Refusal{431, "request head too large"}};
    }
    // The body's data is taken as it comes; what waits is a chunk's size line or the
    // trailers, which Beast 1.74 does not limit: no such line may pass 64 KiB.
    if (parser.is_header_done() && ec == http::error::need_more &&
        in.Pending().size() > kMaxHead) {
      return {.refusal = Refusal{400, "chunk size line or trailer too long"}};
    }
    if (ec == http::error::need_more) {
      if (!in.Fill()) return {.closed = true};
      idle->store(false, std::memory_order_release);
      continue;
    }
    if (ec == http::error::header_limit)
      return {.refusal = Refusal{431, "request head too large"}};
    if (ec == http::error::body_limit)
      return {.refusal = Refusal{413, "request body too large"}};
    if (ec) return {.refusal = Refusal{400, "malformed request"}};
    if (parser.is_header_done() && !header_checked) {
      header_checked = true;
      if (std::optional<Refusal> refusal = CheckFraming(parser); refusal) {
        return {.refusal = refusal};
      }
      const bool body_follows =
          parser.chunked() || parser.content_length().value_or(0) > 0;
      if (body_follows && !parser.is_done() &&
          absl::EqualsIgnoreCase(std::string(parser.get()[http::field::expect]),
                                 "100-continue") &&
          !stream.WriteAll("HTTP/1.1 100 Continue\r\n\r\n")) {
        return {.closed = true};
      }
    }
  }
  http::request<http::string_body> parsed = parser.release();
  request->method = std::string(parsed.method_string());
  request->target = std::string(parsed.target());
  request->version = parsed.version();
  for (const auto& field : parsed) {
    request->headers.emplace_back(std::string(field.name_string()),
                                  std::string(field.value()));
  }
  request->body = std::move(parsed.body());
  return {.keep_alive = parsed.keep_alive()};  // Beast reads Connection's token list
}

// The answer's bytes: status line, the handler's headers, Content-Length, and the body.
std::string Encode(const HttpResponse& response, bool close) {
  std::string out =
      absl::StrCat("HTTP/1.1 ", response.status, " ", Reason(response.status), "\r\n");
  for (const auto& [name, value] : response.headers) {
    // The server frames the answer; a header that is not a valid field (a line break
    // in it would split the answer) is dropped too.
    if (absl::EqualsIgnoreCase(name, "Content-Length") ||
        absl::EqualsIgnoreCase(name, "Connection") ||
        absl::EqualsIgnoreCase(name, "Transfer-Encoding") || !IsToken(name) ||
        !IsFieldValue(value)) {
      continue;
    }
    absl::StrAppend(&out, name, ": ", value, "\r\n");
  }
  absl::StrAppend(&out, "Content-Length: ", response.body.size(), "\r\n",
                  close ? "Connection: close\r\n" : "", "\r\n", response.body);
  return out;
}

void Refuse(const Refusal& refusal, HttpResponse& response) {
  response.status = refusal.status;
  response.SetBody(HttpBodyOf(absl::InvalidArgumentError(refusal.message)),
                       "application/json");
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options) : options_(std::move(options)) {}

HttpServer::~HttpServer() {
  Stop();
  if (tls_ != nullptr) SSL_CTX_free(tls_);
}

void HttpServer::Get(const std::string& path, HttpHandler handler) {
  routes_[path].get = std::move(handler);
}

void HttpServer::Post(const std::string& path, HttpHandler handler) {
  routes_[path].post = std::move(handler);
}

void HttpServer::PostAsync(const std::string& path, AsyncHttpHandler handler) {
  routes_[path].post_async = std::move(handler);
}

absl::Status HttpServer::LoadTls() {
  if (options_.tls_cert_file.empty() && options_.tls_key_file.empty()) {
    return absl::OkStatus();
  }
  const auto failed = [this](const std::string& what) {
    char detail[256] = "";
    ERR_error_string_n(ERR_get_error(), detail, sizeof(detail));
    ERR_clear_error();
    SSL_CTX_free(tls_);
    tls_ = nullptr;
    return absl::InvalidArgumentError(absl::StrCat("TLS: ", what, ": ", detail));
  };
  tls_ = SSL_CTX_new(TLS_server_method());
  if (tls_ == nullptr) return failed("no context");
  SSL_CTX_set_min_proto_version(tls_, TLS1_2_VERSION);
  static const unsigned char kSessionContext[] = "dtx";
  SSL_CTX_set_session_id_context(tls_, kSessionContext, sizeof(kSessionContext) - 1);
  SSL_CTX_set_mode(tls_, SSL_MODE_AUTO_RETRY);
  if (SSL_CTX_use_certificate_chain_file(tls_, options_.tls_cert_file.c_str()) != 1) {
    return failed("cannot load the certificate " + options_.tls_cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(tls_, options_.tls_key_file.c_str(),
                                  SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(tls_) != 1) {
    return failed("cannot load the key " + options_.tls_key_file);
  }
  if (!options_.tls_client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(tls_, options_.tls_client_ca_file.c_str(),
                                      nullptr) != 1) {
      return failed("cannot load the client CA " + options_.tls_client_ca_file);
    }
    SSL_CTX_set_verify(tls_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return absl::OkStatus();
}

absl::StatusOr<int> HttpServer::Start(const std::string& host, int port) {
  if (absl::Status tls = LoadTls(); !tls.ok()) return tls;
  const std::string where = absl::StrCat(host, ":", port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0 || !found) {
    return absl::UnavailableError("cannot resolve " + where);
  }
  for (addrinfo* a = found; a != nullptr && listen_fd_ < 0; a = a->ai_next) {
    const int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, options_.backlog) == 0) {
      listen_fd_ = fd;
    } else {
      close(fd);
    }
  }
  freeaddrinfo(found);
  if (listen_fd_ < 0) return absl::UnavailableError("cannot listen on " + where);
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  const int bound_port = bound.ss_family == AF_INET6
                             ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                             : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
  return bound_port;
}

void HttpServer::Stop() {
  if (!acceptor_.joinable()) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  acceptor_.join();
  close(listen_fd_);
  {
    // Idle connections wake from recv and end; busy ones end after their answer.
    absl::MutexLock lock(&mu_);
    for (Connection& c : connections_) {
      if (!c.done) shutdown(c.fd, SHUT_RD);
    }
    // Parked requests wait for their replies (their handlers' business to send).
    mu_.Await(absl::Condition(
        +[](HttpServer* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return s->serving_ == 0 && s->parked_ == 0;
        },
        this));
  }
  Reap();
}

void HttpServer::AcceptLoop() {
  const absl::Condition room(
      +[](HttpServer* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return s->stopping_ || s->serving_ < std::max(1, s->options_.threads);
      },
      this);
  while (true) {
    Reap();
    bool full;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      full = !room.Eval();
    }
    if (full) {
      MakeRoom();
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(room, absl::Milliseconds(100));
      continue;
    }
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    const int fd =
        accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      const int error = errno;
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      if (error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM) {
        mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(10));
      }
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const timeval idle = absl::ToTimeval(options_.idle_timeout);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof(idle));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &idle, sizeof(idle));
    char address[INET6_ADDRSTRLEN] = "";
    int port = -1;
    if (peer.ss_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&peer);
      inet_ntop(AF_INET, &in->sin_addr, address, sizeof(address));
      port = ntohs(in->sin_port);
    } else if (peer.ss_family == AF_INET6) {
      const auto* in = reinterpret_cast<const sockaddr_in6*>(&peer);
      inet_ntop(AF_INET6, &in->sin6_addr, address, sizeof(address));
      port = ntohs(in->sin6_port);
    }
    absl::MutexLock lock(&mu_);
    if (options_.max_connections_per_address > 0) {
      const int from_there = static_cast<int>(std::count_if(
          connections_.begin(), connections_.end(),
          [&](const Connection& c) { return !c.done && c.peer_address == address; }));
      if (from_there >= options_.max_connections_per_address) {
        if (tls_ == nullptr) {
          (void)!send(fd, kTooManyConnections.data(), kTooManyConnections.size(),
                      MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        close(fd);
        continue;
      }
    }
    Connection& c = connections_.emplace_back();
    c.fd = fd;
    c.accepted = absl::Now();
    c.peer_address = address;
    c.peer_port = port;
    ++serving_;
    c.thread = std::thread([this, &c] { Serve(&c); });
  }
}

void HttpServer::MakeRoom() {
  pollfd waiting{listen_fd_, POLLIN, 0};
  if (poll(&waiting, 1, 100) <= 0) return;  // nobody knocks (or Stop shut the socket)
  // A connection just accepted has not sent its first request yet: closing it then
  // would fail a client that did nothing wrong (seen under load: one of twelve
  // concurrent submits refused). It may be closed once it had a request, or has sent
  // nothing for kFirstRequestGrace.
  constexpr absl::Duration kFirstRequestGrace = absl::Seconds(1);
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  for (Connection& c : connections_) {
    if (!c.done && c.idle.load(std::memory_order_acquire) &&
        (c.had_request.load(std::memory_order_acquire) ||
         now - c.accepted >= kFirstRequestGrace)) {
      shutdown(c.fd, SHUT_RD);  // its recv sees the end; its thread ends
      return;
    }
  }
}

void HttpServer::Reap() {
  std::list<Connection> done;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      auto next = std::next(it);
      if (it->done) done.splice(done.end(), connections_, it);
      it = next;
    }
  }
  for (Connection& c : done) {
    if (c.thread.joinable()) c.thread.join();
  }
}

namespace {

// A peer gone mid-write must not end the process: TLS writes with write(2), which
// raises SIGPIPE. Blocked on each connection thread, it stays pending there and dies
// with the thread.
void BlockSigpipe() {
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
}

HttpResponse InternalError(const std::string& what) {
  HttpResponse response;
  response.status = 500;
  response.SetBody(HttpBodyOf(absl::InternalError(what)), "application/json");
  return response;
}

}  // namespace

void HttpServer::Dispatch(const HttpRequest& request, HttpResponse& response) const {
  auto route = routes_.find(request.path);
  if (route == routes_.end()) return Refuse({404, "no such API"}, response);
  const HttpHandler& handler = request.method == "GET"    ? route->second.get
                               : request.method == "POST" ? route->second.post
                                                          : HttpHandler();
  if (!handler) return Refuse({405, "method not allowed"}, response);
  try {
    handler(request, response);
  } catch (const std::exception& e) {
    response = InternalError(e.what());
  } catch (...) {
    response = InternalError("internal error");
  }
}

// What a connection keeps across its requests, and across a parked one: its TLS
// state, its stream and the bytes read ahead.
struct HttpServer::Session {
  Session(int fd, SSL* tls, const HttpServerOptions& options)
      : ssl(tls), stream(fd, tls, options.idle_timeout), in(stream, options.request_timeout) {}
  SSL* const ssl;
  Stream stream;
  Input in;
  bool refused = false;      // the last answer was a 400, 413 or 431
  bool close_after = false;  // the parked request's connection ends with its answer
};

// One request answered through an HttpReply: whether its connection's thread has let
// go of it (parked), and an answer that came before that.
struct HttpServer::Pending {
  absl::Mutex mu;
  bool parked ABSL_GUARDED_BY(mu) = false;
  bool answered ABSL_GUARDED_BY(mu) = false;
  std::optional<HttpResponse> early ABSL_GUARDED_BY(mu);
};

void HttpServer::Serve(Connection* connection) {
  const int fd = connection->fd;
  BlockSigpipe();
  // TLS: the handshake comes first, within request_timeout; meanwhile the connection
  // counts as idle (it may be closed to make room).
  SSL* ssl = nullptr;
  if (tls_ != nullptr) {
    connection->idle.store(true, std::memory_order_release);
    ssl = SSL_new(tls_);
    const bool ready = ssl != nullptr && fcntl(fd, F_SETFL, O_NONBLOCK) == 0 &&
                       SSL_set_fd(ssl, fd) == 1 &&
                       Stream::Handshake(ssl, fd, absl::Now() + options_.request_timeout);
    connection->idle.store(false, std::memory_order_release);
    if (!ready) {
      if (ssl != nullptr) SSL_free(ssl);
      ERR_clear_error();
      absl::MutexLock lock(&mu_);
      close(fd);
      connection->done = true;
      --serving_;
      return;
    }
  }
  connection->session = std::make_unique<Session>(fd, ssl, options_);
  Converse(connection);
}

void HttpServer::Converse(Connection* connection) {
  Session& session = *connection->session;
  bool open = true;
  while (open) {
    HttpRequest request;
    HttpResponse response;
    session.in.NextRequest();
    connection->idle.store(session.in.Pending().empty(), std::memory_order_release);
    ReadResult got = ReadRequest(session.stream, session.in, options_.max_body_bytes,
                                 &connection->idle, &request);
    connection->idle.store(false, std::memory_order_release);
    if (got.closed) break;
    connection->had_request.store(true, std::memory_order_release);
    const std::optional<Refusal>& refusal = got.refusal;

    bool close_after = refusal.has_value();
    if (refusal) {
      Refuse(*refusal, response);
    } else {
      close_after = !got.keep_alive;
      const size_t query = request.target.find('?');
      request.path = PercentDecode(std::string_view(request.target).substr(0, query),
                                   /*plus_is_space=*/false);
      if (query != std::string::npos) {
        request.params = ParseQuery(std::string_view(request.target).substr(query + 1));
      }
      request.remote_address = connection->peer_address;
      request.remote_port = connection->peer_port;
      auto route = routes_.find(request.path);
      if (request.method == "POST" && route != routes_.end() && route->second.post_async) {
        session.close_after = close_after;
        std::optional<HttpResponse> now =
            Defer(connection, request, route->first, route->second.post_async);
        if (!now) return;  // parked: Resume answers it, on a thread of its own
        response = *std::move(now);
      } else {
        Dispatch(request, response);
        if (options_.on_answer) {
          options_.on_answer(route != routes_.end() ? std::string_view(route->first)
                                                    : std::string_view("other"),
                             response.status);
        }
      }
    }
    if (refusal && options_.on_answer) options_.on_answer("other", response.status);
    session.refused = refusal.has_value();
    if (!session.stream.WriteAll(Encode(response, close_after))) break;
    open = !close_after;
  }
  End(connection);
}

std::optional<HttpResponse> HttpServer::Defer(Connection* connection,
                                              const HttpRequest& request,
                                              std::string_view route,
                                              const AsyncHttpHandler& handler) {
  auto pending = std::make_shared<Pending>();
  HttpReply reply = [this, connection, pending, route](HttpResponse response) {
    {
      absl::MutexLock lock(&pending->mu);
      if (pending->answered) return;  // one answer per request
      pending->answered = true;
      if (options_.on_answer) options_.on_answer(route, response.status);
      if (!pending->parked) {
        pending->early = std::move(response);
        return;
      }
    }
    Resume(connection, std::move(response));
  };
  try {
    handler(request, reply);
  } catch (const std::exception& e) {
    reply(InternalError(e.what()));
  } catch (...) {
    reply(InternalError("internal error"));
  }
  absl::MutexLock lock(&pending->mu);
  if (pending->answered) return std::move(pending->early);
  // The counts move under the pending lock, so that a reply coming now (which waits
  // for it) finds them moved.
  pending->parked = true;
  absl::MutexLock server_lock(&mu_);
  --serving_;
  ++parked_;
  return std::nullopt;
}

void HttpServer::Resume(Connection* connection, HttpResponse response) {
  bool started = true;
  {
    absl::MutexLock lock(&mu_);
    --parked_;
    ++serving_;
    // The thread that parked the request is returning (it let go of the request under
    // the pending lock this reply took): the new thread joins it first.
    connection->parker = std::move(connection->thread);
    try {
      connection->thread =
          std::thread([this, connection, response = std::move(response)]() {
            connection->parker.join();
            BlockSigpipe();
            Session& session = *connection->session;
            if (session.stream.WriteAll(Encode(response, session.close_after)) &&
                !session.close_after) {
              Converse(connection);
            } else {
              End(connection);
            }
          });
    } catch (const std::system_error&) {
      started = false;
    }
  }
  if (!started) {
    // No thread to be had: the connection ends unanswered (its client sees it close)
    // rather than the reply throwing into the caller's thread.
    connection->parker.join();
    End(connection);
  }
}

void HttpServer::End(Connection* connection) {
  const int fd = connection->fd;
  Session& session = *connection->session;
  if (session.ssl != nullptr) SSL_shutdown(session.ssl);  // close_notify; not awaited
  shutdown(fd, SHUT_WR);
  if (session.refused) {
    // Closing with unread input would reset the connection, and the peer could lose
    // the answer: read what it still sends (a refused body), up to 1 MiB or 2 s.
    char sink[16384];
    const absl::Time until = absl::Now() + absl::Seconds(2);
    const timeval wait = absl::ToTimeval(absl::Milliseconds(500));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
    for (size_t drained = 0; drained < (size_t{1} << 20) && absl::Now() < until;) {
      const ssize_t n = session.stream.Read(sink, sizeof(sink), until);
      if (n <= 0) break;
      drained += static_cast<size_t>(n);
    }
  }
  if (session.ssl != nullptr) {
    SSL_free(session.ssl);
    ERR_clear_error();  // this thread's OpenSSL error queue
  }
  // Closed under the lock, so that Stop() never shuts a descriptor number reused since.
  absl::MutexLock lock(&mu_);
  close(fd);
  connection->done = true;
  --serving_;
}

}  // namespace dtx::internal
