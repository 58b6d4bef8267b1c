#include "http/blocking_http_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "http/wait_for.h"

namespace dtx::internal {
namespace {

std::string Errno(const char* what) {
  return absl::StrCat(what, ": ", std::strerror(errno));
}

// A new non-blocking connection to host:port, each resolved address tried in turn;
// -1 with *error when none takes it.
int Connect(const ClientRequest& r, absl::Time deadline, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(r.host.c_str(), r.port.c_str(), &hints, &found);
      rc != 0 || found == nullptr) {
    *error = absl::StrCat("cannot resolve ", r.host, ": ", gai_strerror(rc));
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      *error = Errno("socket");
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    bool connected = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
    if (!connected && errno == EINPROGRESS) {
      int so_error = 0;
      socklen_t len = sizeof(so_error);
      if (!WaitFor(fd, POLLOUT, deadline)) {
        *error = "timed out connecting";
      } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 &&
                 so_error == 0) {
        connected = true;
      } else {
        *error = absl::StrCat("connect: ", std::strerror(so_error));
      }
    } else if (!connected) {
      *error = Errno("connect");
    }
    if (!connected) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  return fd;
}

// What became of one exchange on a connection.
struct Exchange {
  absl::StatusOr<ClientResponse> answer;
  bool reusable = false;    // the connection may carry the next request
  bool got_nothing = true;  // the peer sent no byte: a stale connection looks so
};

// One request and its answer on a connection (TLS when `ssl` is set), by `deadline`.
Exchange Run(int fd, ssl_st* ssl, const std::string& out, absl::Time deadline) {
  Exchange x{absl::UnavailableError("no answer"), false, true};
  if (ssl != nullptr) {
    std::string error;
    bool timed_out = false;
    if (!TlsWriteAll(ssl, fd, out, deadline, &error, &timed_out)) {
      x.answer = absl::UnavailableError(error);
      x.got_nothing = !timed_out;  // a stale connection fails at once, not at deadline
      return x;
    }
  }
  for (size_t sent = ssl != nullptr ? out.size() : 0; sent < out.size();) {
    const ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && errno == EAGAIN) {
      if (!WaitFor(fd, POLLOUT, deadline)) {
        x.answer = absl::UnavailableError("timed out sending");
        x.got_nothing = false;  // not a stale connection: do not send again
        return x;
      }
    } else if (n < 0 && errno != EINTR) {
      x.answer = absl::UnavailableError(Errno("send"));
      return x;
    }
  }
  std::string in;
  Parser parser;
  char buf[16384];
  while (true) {
    ssize_t n;
    bool clean_end = true;  // TLS: the end came with close_notify
    if (ssl != nullptr) {
      std::string error;
      bool timed_out = false;
      n = TlsRead(ssl, fd, buf, sizeof(buf), deadline, &error, &timed_out, &clean_end);
      if (n < 0) {
        x.answer = absl::UnavailableError(error);
        x.got_nothing = x.got_nothing && !timed_out;
        return x;
      }
    } else {
      n = recv(fd, buf, sizeof(buf), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        if (!WaitFor(fd, POLLIN, deadline)) {
          x.answer = absl::UnavailableError("timed out waiting for the answer");
          x.got_nothing = false;
          return x;
        }
        continue;
      }
      if (n < 0) {
        x.answer = absl::UnavailableError(Errno("recv"));
        return x;
      }
    }
    const bool eof = n == 0;
    if (!eof) {
      x.got_nothing = false;
      in.append(buf, static_cast<size_t>(n));
    }
    std::string error;
    switch (ParseResponse(in, parser, eof, &error)) {
      case Parsed::kMore:
        continue;
      case Parsed::kDone:
        if (eof && !clean_end) {
          // The body ran to the end of a TLS connection that was cut, not closed:
          // whoever cut it may have cut the answer short.
          x.answer = absl::UnavailableError(
              "TLS connection ended without close_notify inside an answer delimited by "
              "its end");
          return x;
        }
        x.answer = ClientResponse{parser.status, std::move(parser.body)};
        x.reusable = !parser.close && !eof && parser.pos == in.size();
        return x;
      case Parsed::kError:
        x.answer = absl::UnavailableError(error);
        return x;
    }
  }
}

}  // namespace

BlockingHttpClient::BlockingHttpClient(size_t max_idle_per_origin, std::string ca_file)
    : max_idle_(max_idle_per_origin), ca_file_(std::move(ca_file)) {}

BlockingHttpClient::~BlockingHttpClient() {
  absl::MutexLock lock(&mu_);
  for (auto& [origin, conns] : idle_) {
    for (Conn conn : conns) Close(conn, /*healthy=*/true);
  }
}

absl::StatusOr<const TlsClientContext*> BlockingHttpClient::Tls() {
  absl::call_once(tls_once_, [this] {
    absl::StatusOr<TlsClientContext*> made = TlsClientContext::Create(ca_file_);
    if (made.ok()) {
      tls_ = std::unique_ptr<TlsClientContext>(*made);
    } else {
      tls_ = absl::FailedPreconditionError(made.status().message());
    }
  });
  if (!tls_.ok()) return tls_.status();
  return tls_->get();
}

void BlockingHttpClient::Close(Conn conn, bool healthy) {
  TlsClose(conn.ssl, healthy);
  close(conn.fd);
}

BlockingHttpClient::Conn BlockingHttpClient::TakeIdle(const std::string& origin) {
  absl::MutexLock lock(&mu_);
  auto it = idle_.find(origin);
  if (it == idle_.end() || it->second.empty()) return Conn();
  const Conn conn = it->second.back();
  it->second.pop_back();
  return conn;
}

void BlockingHttpClient::GiveBack(const std::string& origin, Conn conn) {
  {
    absl::MutexLock lock(&mu_);
    std::vector<Conn>& conns = idle_[origin];
    if (conns.size() < max_idle_) {
      conns.push_back(conn);
      return;
    }
  }
  Close(conn, /*healthy=*/true);
}

absl::StatusOr<ClientResponse> BlockingHttpClient::Send(const ClientRequest& request) {
  absl::StatusOr<std::string> out = EncodeRequest(request);
  if (!out.ok()) return out.status();
  const TlsClientContext* tls = nullptr;
  if (request.tls) {
    absl::StatusOr<const TlsClientContext*> context = Tls();
    if (!context.ok()) return context.status();
    tls = *context;
  }
  const std::string origin =
      absl::StrCat(request.tls ? "https://" : "http://", request.host, ":", request.port);
  const absl::Time deadline = std::min(request.deadline, absl::Now() + request.timeout);
  if (deadline <= absl::Now()) {
    return absl::UnavailableError("not sent: its deadline passed while it waited for a thread");
  }
  // A reused connection the peer closed meanwhile fails with nothing received: once
  // more on a new one.
  while (true) {
    Conn conn = TakeIdle(origin);
    const bool reused = conn.fd >= 0;
    if (!reused) {
      std::string error;
      conn.fd = Connect(request, deadline, &error);
      if (conn.fd < 0) return absl::UnavailableError(error);
      if (tls != nullptr) {
        absl::StatusOr<ssl_st*> session = tls->Connect(conn.fd, request.host, deadline);
        if (!session.ok()) {
          close(conn.fd);
          return session.status();
        }
        conn.ssl = *session;
      }
    }
    Exchange x = Run(conn.fd, conn.ssl, *out, deadline);
    if (x.answer.ok() && x.reusable) {
      GiveBack(origin, conn);
    } else {
      Close(conn, /*healthy=*/x.answer.ok());
    }
    if (x.answer.ok() || !reused || !x.got_nothing) return std::move(x.answer);
  }
}

}  // namespace dtx::internal
