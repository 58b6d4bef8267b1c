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

namespace dtx::internal {
namespace {

std::string Errno(const char* what) {
  return absl::StrCat(what, ": ", std::strerror(errno));
}

// Waits until `fd` is ready for `events` or `deadline` passes (false then).
bool WaitFor(int fd, short events, absl::Time deadline) {
  while (true) {
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1 << 30)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
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

Exchange Run(int fd, const std::string& out, absl::Time deadline) {
  Exchange x{absl::UnavailableError("no answer"), false, true};
  for (size_t sent = 0; sent < out.size();) {
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
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
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
    const bool eof = n == 0;
    if (!eof) {
      x.got_nothing = false;
      in.append(buf, static_cast<size_t>(n));
    }
    std::string error;
    switch (ParseResponse(in, parser, eof, &error)) {
      case Parsed::kMore:
        if (in.size() > kMaxHead + kMaxBody) {
          x.answer = absl::UnavailableError("answer over 16 MiB");
          return x;
        }
        continue;
      case Parsed::kDone:
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

BlockingHttpClient::BlockingHttpClient(size_t max_idle_per_origin)
    : max_idle_(max_idle_per_origin) {}

BlockingHttpClient::~BlockingHttpClient() {
  absl::MutexLock lock(&mu_);
  for (auto& [origin, fds] : idle_) {
    for (int fd : fds) close(fd);
  }
}

int BlockingHttpClient::TakeIdle(const std::string& origin) {
  absl::MutexLock lock(&mu_);
  auto it = idle_.find(origin);
  if (it == idle_.end() || it->second.empty()) return -1;
  const int fd = it->second.back();
  it->second.pop_back();
  return fd;
}

void BlockingHttpClient::GiveBack(const std::string& origin, int fd) {
  {
    absl::MutexLock lock(&mu_);
    std::vector<int>& fds = idle_[origin];
    if (fds.size() < max_idle_) {
      fds.push_back(fd);
      return;
    }
  }
  close(fd);
}

absl::StatusOr<ClientResponse> BlockingHttpClient::Send(const ClientRequest& request) {
  absl::StatusOr<std::string> out = EncodeRequest(request);
  if (!out.ok()) return out.status();
  const std::string origin = absl::StrCat(request.host, ":", request.port);
  const absl::Time deadline = absl::Now() + request.timeout;
  // A reused connection the peer closed meanwhile fails with nothing received: once
  // more on a new one.
  while (true) {
    int fd = TakeIdle(origin);
    const bool reused = fd >= 0;
    if (!reused) {
      std::string error;
      fd = Connect(request, deadline, &error);
      if (fd < 0) return absl::UnavailableError(error);
    }
    Exchange x = Run(fd, *out, deadline);
    if (x.answer.ok() && x.reusable) {
      GiveBack(origin, fd);
    } else {
      close(fd);
    }
    if (x.answer.ok() || !reused || !x.got_nothing) return std::move(x.answer);
  }
}

}  // namespace dtx::internal
