// Fuzz target: the bytes of one connection to dtx's HTTP server (Beast's parser under
// its loop, routing, errors), over a real socket on 127.0.0.1. Each input is sent on a
// new connection whose write side is then closed; the server must answer or close,
// never crash or hang (a read that waits past 5 s is a finding).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "http/http_server.h"

namespace {

int StartServer() {
  static auto* server = [] {
    auto* s = new dtx::internal::HttpServer(
        {.threads = 8, .max_body_bytes = 1 << 16, .idle_timeout = absl::Seconds(2)});
    auto echo = [](const dtx::HttpRequest& req, dtx::HttpResponse& res) {
      res.SetBody(req.method + " " + req.path + " " + req.body, "text/plain");
    };
    s->Get("/echo", echo);
    s->Post("/echo", echo);
    return s;
  }();
  static const int port = server->Start("127.0.0.1", 0).value();
  return port;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int port = StartServer();
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  // libFuzzer's timer signal can interrupt any call here: an interrupted connect goes
  // on in the background (wait for it), an interrupted send or recv is made again.
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    int error = errno;
    if (error == EINTR) {
      pollfd writable{fd, POLLOUT, 0};
      while (poll(&writable, 1, 5000) < 0 && errno == EINTR) {
      }
      socklen_t length = sizeof(error);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    }
    if (error != 0) {
      std::fprintf(stderr, "http_request_fuzz: connect: %s\n", std::strerror(error));
      abort();
    }
  }
  // Reset, not TIME_WAIT, when this side closes: hundreds of connections a second
  // would otherwise use up the ephemeral ports.
  const linger reset{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  timeval limit{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  for (size_t sent = 0; sent < size;) {
    const ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the server closed after refusing the request
    sent += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  char answer[4096];
  while (true) {
    const ssize_t n = recv(fd, answer, sizeof(answer), 0);
    if (n == 0) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        std::fprintf(stderr, "http_request_fuzz: no answer and no close in 5 s\n");
        abort();  // the server hangs
      }
      break;  // reset: refused
    }
  }
  close(fd);
  return 0;
}
