// http_floor: what one HTTP exchange on 127.0.0.1 costs in CPU, on dtx's HTTP stack
// and below it, so that the HTTP share of a saga (P1a of issue 5 makes three
// exchanges per saga: the submit and two branch calls) can be told from the rest.
//
// Usage: http_floor [--seconds N] [--clients 8,32]
//
// For each client count (a thread and a keep-alive connection each, all in this
// process), prints exchanges per second and the process's CPU per exchange, client
// and server sides together, for:
//  - dtx: BlockingHttpClient (what a wait_result submit drives its saga with) calling
//    an HttpBranchServer branch that answers SUCCESS at once;
//  - cpp-httplib: the same branch on an httplib::Server (what HttpBranchServer and
//    dtxd's API were until 2026-11-29: it polls before every read and every write,
//    and writes an answer's head and body apart);
//  - one write: the same client against a responder that only finds the body's end
//    and answers fixed bytes in one send: what serving costs without parsing;
//  - raw TCP: blocking send and recv of a request and an answer of the same sizes,
//    no HTTP at all: the kernel's floor on this machine.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "dtx/http/http_branch.h"
#include "http/blocking_http_client.h"
#include "process_cpu.h"

namespace {

using Clock = std::chrono::steady_clock;

// One exchange on connection `i` (0 <= i < clients); false stops the run as failed.
using ExchangeFn = std::function<bool(int i)>;

void Report(const char* name, int clients, double seconds, const ExchangeFn& exchange) {
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::atomic<long> done{0};
  const double cpu0 = dtx::bench::ProcessCpuSeconds(getpid());
  const Clock::time_point t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      while (!stop.load(std::memory_order_relaxed)) {
        if (!exchange(i)) {
          failed = true;
          return;
        }
        done.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (std::thread& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = dtx::bench::ProcessCpuSeconds(getpid()) - cpu0;
  const long n = done.load();
  std::printf("%-46s %3d clients: %8.0f exchanges/s, %6.1f us CPU per exchange%s\n", name,
              clients, static_cast<double>(n) / elapsed,
              n > 0 ? cpu / static_cast<double>(n) * 1e6 : 0.0,
              failed ? "  (an exchange FAILED)" : "");
}

// A loopback listener whose every connection gets a thread running `serve(fd)` until
// the peer closes; the destructor shuts the connections still open and joins them.
class Listener {
 public:
  explicit Listener(std::function<void(int fd)> serve) : serve_(std::move(serve)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        listen(fd_, 1024) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      std::perror("listen");
      std::exit(1);
    }
    port_ = ntohs(a.sin_port);
    accepting_ = std::thread([this] {
      while (true) {
        const int fd = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;  // shut down
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        connections_.push_back({fd, std::thread([this, fd] { serve_(fd); })});
      }
    });
  }
  ~Listener() {
    shutdown(fd_, SHUT_RDWR);
    accepting_.join();
    close(fd_);
    for (auto& [fd, thread] : connections_) {
      shutdown(fd, SHUT_RDWR);
      thread.join();
      close(fd);
    }
  }
  int port() const { return port_; }

 private:
  std::function<void(int fd)> serve_;
  int fd_ = -1;
  int port_ = 0;
  std::thread accepting_;
  std::vector<std::pair<int, std::thread>> connections_;  // only the acceptor adds
};

// Blocking connections to 127.0.0.1:port, one per client.
std::vector<int> Connect(int port, int n) {
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      std::perror("connect");
      std::exit(1);
    }
    fds.push_back(fd);
  }
  return fds;
}

bool SendAll(int fd, const std::string& bytes) {
  for (size_t sent = 0; sent < bytes.size();) {
    const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Serves requests that carry a Content-Length body on `fd`, answering each with
// `answer` in one send, until the peer closes.
void OneWriteResponder(int fd, const std::string& answer) {
  std::string in;
  char buf[16384];
  while (true) {
    size_t head_end = in.find("\r\n\r\n");
    while (head_end == std::string::npos) {
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
      head_end = in.find("\r\n\r\n");
    }
    size_t body = 0;
    const size_t at = in.find("Content-Length: ");
    if (at != std::string::npos && at < head_end) {
      body = std::strtoul(in.c_str() + at + 16, nullptr, 10);
    }
    const size_t whole = head_end + 4 + body;
    while (in.size() < whole) {
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
    in.erase(0, whole);
    if (!SendAll(fd, answer)) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  std::vector<int> clients = {8, 32};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    if (name == "--seconds" && absl::SimpleAtod(argv[i + 1], &seconds)) continue;
    if (name == "--clients") {
      clients.clear();
      for (absl::string_view c : absl::StrSplit(argv[i + 1], ',')) {
        int n = 0;
        if (absl::SimpleAtoi(c, &n) && n > 0) clients.push_back(n);
      }
      if (!clients.empty()) continue;
    }
    std::fprintf(stderr, "usage: http_floor [--seconds N] [--clients 8,32]\n");
    return 2;
  }
  const int most = *std::max_element(clients.begin(), clients.end());

  // What a coordinator sends a branch, and what the branch answers.
  dtx::internal::ClientRequest request;
  request.method = "POST";
  request.host = "127.0.0.1";
  request.target =
      "/api/TransIn?gid=bench-gid-0001&trans_type=saga&branch_id=01&op=action";
  request.content_type = "application/json";
  request.body = R"({"user_id":1,"amount":30})";
  request.timeout = absl::Seconds(10);

  dtx::HttpBranchServer server(most + 8);
  server.Handle("/api/TransIn", [](const dtx::BranchInfo&, const dtx::HttpRequest&) {
    return absl::OkStatus();
  });
  const absl::StatusOr<int> port = server.Start();
  if (!port.ok()) {
    std::fprintf(stderr, "%s\n", port.status().ToString().c_str());
    return 1;
  }
  dtx::internal::BlockingHttpClient client(static_cast<size_t>(most));

  // The branch server's answer, byte for byte, for the last two servers to send.
  request.port = std::to_string(*port);
  const absl::StatusOr<std::string> wire_request = dtx::internal::EncodeRequest(request);
  std::string answer;
  {
    const std::vector<int> probe = Connect(*port, 1);
    char buf[4096];
    ssize_t n = 0;
    if (!wire_request.ok() || !SendAll(probe[0], *wire_request)) return 1;
    // Read until the body is there.
    while (answer.find("SUCCESS\"}") == std::string::npos &&
           (n = recv(probe[0], buf, sizeof(buf), 0)) > 0) {
      answer.append(buf, static_cast<size_t>(n));
    }
    close(probe[0]);
    if (answer.empty()) return 1;
  }
  std::printf(
      "http_floor: %u cores, %.1f s per figure; request %zu bytes, answer %zu bytes\n",
      std::thread::hardware_concurrency(), seconds, wire_request->size(), answer.size());

  for (int n : clients) {
    Report("dtx (BlockingHttpClient, HttpBranchServer)", n, seconds, [&](int) {
      absl::StatusOr<dtx::internal::ClientResponse> r = client.Send(request);
      return r.ok() && r->status == 200;
    });
  }

  httplib::Server httplib_server;
  httplib_server.new_task_queue = [most] {
    return new httplib::ThreadPool(static_cast<size_t>(most + 8));
  };
  httplib_server.set_tcp_nodelay(true);
  httplib_server.set_keep_alive_max_count(100000);
  httplib_server.set_keep_alive_timeout(1);
  // The branch as dtx served it on cpp-httplib: its query parameters read, then the
  // SUCCESS answer.
  httplib_server.Post("/api/TransIn", [](const httplib::Request& req,
                                         httplib::Response& res) {
    const bool branch = req.has_param("gid") && req.has_param("trans_type") &&
                        req.has_param("branch_id") && req.has_param("op");
    res.status = branch ? 200 : 400;
    res.set_content(branch ? R"({"dtm_result":"SUCCESS"})" : R"({"message":"bad"})",
                    "application/json");
  });
  // cpp-httplib listens with a backlog of 5: listen again with 1024 (its socket comes
  // through the options callback) so that a burst of clients is not dropped.
  int listen_fd = -1;
  httplib_server.set_socket_options([&listen_fd](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_fd = sock;
  });
  const int httplib_port = httplib_server.bind_to_any_port("127.0.0.1");
  if (httplib_port <= 0 || listen_fd < 0 || listen(listen_fd, 1024) != 0) return 1;
  std::thread httplib_thread([&] { httplib_server.listen_after_bind(); });
  dtx::internal::ClientRequest to_httplib = request;
  to_httplib.port = std::to_string(httplib_port);
  dtx::internal::BlockingHttpClient client1(static_cast<size_t>(most));
  for (int n : clients) {
    Report("cpp-httplib (BlockingHttpClient, httplib::Server)", n, seconds, [&](int) {
      absl::StatusOr<dtx::internal::ClientResponse> r = client1.Send(to_httplib);
      return r.ok() && r->status == 200;
    });
  }
  httplib_server.stop();
  httplib_thread.join();

  Listener one_write([&answer](int fd) { OneWriteResponder(fd, answer); });
  dtx::internal::ClientRequest to_one_write = request;
  to_one_write.port = std::to_string(one_write.port());
  dtx::internal::BlockingHttpClient client2(static_cast<size_t>(most));
  for (int n : clients) {
    Report("one write (BlockingHttpClient, one send)", n, seconds, [&](int) {
      absl::StatusOr<dtx::internal::ClientResponse> r = client2.Send(to_one_write);
      return r.ok() && r->status == 200;
    });
  }

  const size_t request_size = wire_request->size();
  const size_t answer_size = answer.size();
  Listener echo([&](int fd) {
    std::vector<char> buf(request_size);
    while (true) {
      for (size_t got = 0; got < request_size;) {
        const ssize_t k = recv(fd, buf.data() + got, request_size - got, 0);
        if (k <= 0) return;
        got += static_cast<size_t>(k);
      }
      if (!SendAll(fd, answer)) return;
    }
  });
  for (int n : clients) {
    const std::vector<int> fds = Connect(echo.port(), n);
    const std::string out = *wire_request;
    Report("raw TCP (blocking send and recv)", n, seconds, [&](int i) {
      if (!SendAll(fds[i], out)) return false;
      char buf[4096];
      for (size_t got = 0; got < answer_size;) {
        const ssize_t k = recv(fds[i], buf, sizeof(buf), 0);
        if (k <= 0) return false;
        got += static_cast<size_t>(k);
      }
      return true;
    });
    for (int fd : fds) close(fd);
  }
  server.Stop();
  return 0;
}
