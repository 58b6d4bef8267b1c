#include "http/http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <optional>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "dtx/result.h"

namespace dtx::internal {
namespace {

constexpr size_t kMaxHead = 64 * 1024;  // request line and headers

const char* Reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 425:
      return "Too Early";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

// A request this server refuses to serve: the status and the message it answers.
struct Refusal {
  int status;
  const char* message;
};

bool SendAll(int fd, const std::string& bytes) {
  for (size_t sent = 0; sent < bytes.size();) {
    const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // the peer is gone or took nothing for idle_timeout
    sent += static_cast<size_t>(n);
  }
  return true;
}

// The bytes of a connection, read on demand. recv blocks for at most the socket's
// SO_RCVTIMEO.
class Input {
 public:
  // `request_limit`: how long a request may take to arrive, from its first byte.
  Input(int fd, absl::Duration request_limit) : fd_(fd), request_limit_(request_limit) {}

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
      const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
      if (n < 0 && errno == EINTR) continue;
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

  // The next line ending in CRLF, without it; false when the stream ends first or the
  // line would pass `limit` bytes.
  bool Line(size_t limit, std::string* line) {
    while (true) {
      const size_t end = Pending().find("\r\n");
      if (end != std::string_view::npos) {
        line->assign(Pending().substr(0, end));
        Consume(end + 2);
        return true;
      }
      if (Pending().size() > limit || !Fill()) return false;
    }
  }
  // Exactly n more bytes appended to *out; false when the stream ends first.
  bool Take(size_t n, std::string* out) {
    while (Pending().size() < n) {
      if (!Fill()) return false;
    }
    out->append(Pending().substr(0, n));
    Consume(n);
    return true;
  }

 private:
  const int fd_;
  const absl::Duration request_limit_;
  absl::Time deadline_ = absl::InfiniteFuture();
  std::string buf_;
  size_t pos_ = 0;
};

// Splits "Name: value" into the request's headers; false when it is not a header.
bool AddHeader(absl::string_view line, httplib::Headers* headers) {
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  const absl::string_view name = line.substr(0, colon);
  if (name.find_first_of(" \t") != absl::string_view::npos) return false;
  headers->emplace(std::string(name),
                   std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  return true;
}

// Reads a chunked body into *body; a Refusal when it is malformed or too large.
std::optional<Refusal> ReadChunked(Input& in, size_t max_body, std::string* body) {
  std::string line;
  while (true) {
    if (!in.Line(1024, &line)) return Refusal{400, "malformed chunked body"};
    const absl::string_view size_text = absl::string_view(line).substr(0, line.find(';'));
    uint64_t size = 0;
    if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(size_text), &size)) {
      return Refusal{400, "malformed chunked body"};
    }
    if (size > max_body - body->size()) return Refusal{413, "request body too large"};
    if (size == 0) break;
    if (!in.Take(size, body) || !in.Line(1, &line) || !line.empty()) {
      return Refusal{400, "malformed chunked body"};
    }
  }
  // Trailers, up to the empty line.
  size_t trailers = 0;
  do {
    if (!in.Line(kMaxHead, &line)) return Refusal{400, "malformed chunked body"};
    trailers += line.size();
  } while (!line.empty() && trailers < kMaxHead);
  if (!line.empty()) return Refusal{400, "malformed chunked body"};
  return std::nullopt;
}

// The answer's bytes: status line, the handler's headers, Content-Length, and the body.
std::string Encode(const httplib::Response& response, bool close) {
  std::string out =
      absl::StrCat("HTTP/1.1 ", response.status, " ", Reason(response.status), "\r\n");
  for (const auto& [name, value] : response.headers) {
    if (absl::EqualsIgnoreCase(name, "Content-Length") ||
        absl::EqualsIgnoreCase(name, "Connection")) {
      continue;
    }
    absl::StrAppend(&out, name, ": ", value, "\r\n");
  }
  absl::StrAppend(&out, "Content-Length: ", response.body.size(), "\r\n",
                  close ? "Connection: close\r\n" : "", "\r\n", response.body);
  return out;
}

void Refuse(const Refusal& refusal, httplib::Response& response) {
  response.status = refusal.status;
  response.set_content(HttpBodyOf(absl::InvalidArgumentError(refusal.message)),
                       "application/json");
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options) : options_(std::move(options)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Get(const std::string& path, HttpHandler handler) {
  routes_[path].get = std::move(handler);
}

void HttpServer::Post(const std::string& path, HttpHandler handler) {
  routes_[path].post = std::move(handler);
}

absl::StatusOr<int> HttpServer::Start(const std::string& host, int port) {
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
    mu_.Await(absl::Condition(
        +[](int* serving) { return *serving == 0; }, &serving_));
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
    Connection& c = connections_.emplace_back();
    c.fd = fd;
    c.peer_address = address;
    c.peer_port = port;
    ++serving_;
    c.thread = std::thread([this, &c] { Serve(&c); });
  }
}

void HttpServer::MakeRoom() {
  pollfd waiting{listen_fd_, POLLIN, 0};
  if (poll(&waiting, 1, 100) <= 0) return;  // nobody knocks (or Stop shut the socket)
  absl::MutexLock lock(&mu_);
  for (Connection& c : connections_) {
    if (!c.done && c.idle.load(std::memory_order_acquire)) {
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
  for (Connection& c : done) c.thread.join();
}

void HttpServer::Dispatch(const httplib::Request& request,
                          httplib::Response& response) const {
  auto route = routes_.find(request.path);
  if (route == routes_.end()) return Refuse({404, "no such API"}, response);
  const HttpHandler& handler = request.method == "GET"    ? route->second.get
                               : request.method == "POST" ? route->second.post
                                                          : HttpHandler();
  if (!handler) return Refuse({405, "method not allowed"}, response);
  try {
    handler(request, response);
  } catch (const std::exception& e) {
    response = httplib::Response();
    response.status = 500;
    response.set_content(HttpBodyOf(absl::InternalError(e.what())), "application/json");
  } catch (...) {
    response = httplib::Response();
    response.status = 500;
    response.set_content(HttpBodyOf(absl::InternalError("internal error")),
                         "application/json");
  }
  if (response.status == -1) response.status = 200;
}

void HttpServer::Serve(Connection* connection) {
  const int fd = connection->fd;
  Input in(fd, options_.request_timeout);
  std::string line;
  bool open = true;
  bool refused = false;  // answered 400 or 413: the peer may still be sending
  while (open) {
    httplib::Request request;
    httplib::Response response;
    in.NextRequest();
    connection->idle.store(in.Pending().empty(), std::memory_order_release);
    // The request line; empty lines before it are allowed (RFC 9112, 2.2).
    do {
      if (!in.Line(kMaxHead, &line)) {
        open = false;
        break;
      }
    } while (line.empty());
    connection->idle.store(false, std::memory_order_release);
    if (!open) break;

    std::optional<Refusal> refusal;
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string::npos || line.find(' ', sp2 + 1) != std::string::npos) {
      refusal = Refusal{400, "malformed request line"};
    } else {
      request.method = line.substr(0, sp1);
      request.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      request.version = line.substr(sp2 + 1);
      if (request.version != "HTTP/1.1" && request.version != "HTTP/1.0") {
        refusal = Refusal{400, "unsupported HTTP version"};
      }
    }
    // Headers, up to the empty line.
    size_t head = line.size();
    while (!refusal) {
      if (!in.Line(kMaxHead, &line)) {
        open = false;
        break;
      }
      if (line.empty()) break;
      head += line.size();
      if (head > kMaxHead) {
        refusal = Refusal{400, "request head too large"};
      } else if (!AddHeader(line, &request.headers)) {
        refusal = Refusal{400, "malformed header"};
      }
    }
    if (!open) break;

    // The body.
    if (!refusal) {
      const std::string transfer = request.get_header_value("Transfer-Encoding");
      const std::string length = request.get_header_value("Content-Length");
      uint64_t size = 0;
      const bool chunked = absl::EqualsIgnoreCase(transfer, "chunked");
      if (!transfer.empty() && !chunked) {
        refusal = Refusal{400, "unsupported transfer coding"};
      } else if (!chunked && !length.empty() && !absl::SimpleAtoi(length, &size)) {
        refusal = Refusal{400, "malformed Content-Length"};
      } else if (size > options_.max_body_bytes) {
        refusal = Refusal{413, "request body too large"};
      } else {
        if ((chunked || size > 0) &&
            absl::EqualsIgnoreCase(request.get_header_value("Expect"), "100-continue") &&
            !SendAll(fd, "HTTP/1.1 100 Continue\r\n\r\n")) {
          break;
        }
        if (chunked) {
          refusal = ReadChunked(in, options_.max_body_bytes, &request.body);
        } else if (!in.Take(size, &request.body)) {
          break;
        }
      }
    }

    bool close_after = refusal.has_value();
    if (refusal) {
      Refuse(*refusal, response);
    } else {
      const std::string conn = request.get_header_value("Connection");
      close_after =
          absl::EqualsIgnoreCase(conn, "close") ||
          (request.version == "HTTP/1.0" && !absl::EqualsIgnoreCase(conn, "keep-alive"));
      const size_t query = request.target.find('?');
      request.path = httplib::detail::decode_url(request.target.substr(0, query), false);
      if (query != std::string::npos) {
        httplib::detail::parse_query_text(request.target.substr(query + 1),
                                          request.params);
      }
      request.remote_addr = connection->peer_address;
      request.remote_port = connection->peer_port;
      Dispatch(request, response);
    }
    refused = refusal.has_value();
    if (!SendAll(fd, Encode(response, close_after))) break;
    open = !close_after;
  }
  shutdown(fd, SHUT_WR);
  if (refused) {
    // Closing with unread input would reset the connection, and the peer could lose
    // the answer: read what it still sends (a refused body), up to 1 MiB.
    char sink[16384];
    for (size_t drained = 0; drained < (size_t{1} << 20);) {
      const ssize_t n = recv(fd, sink, sizeof(sink), 0);
      if (n <= 0) break;
      drained += static_cast<size_t>(n);
    }
  }
  // Closed under the lock, so that Stop() never shuts a descriptor number reused since.
  absl::MutexLock lock(&mu_);
  close(fd);
  connection->done = true;
  --serving_;
}

}  // namespace dtx::internal
