#include "delayed_branches.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "absl/time/clock.h"

namespace dtx::bench {
namespace {

// A gRPC server whose every method answers OK (an empty message) `delay` after the
// request came. Each waiting call is a reactor; one thread answers them in due order.
class DelayedGrpcServer : public grpc::CallbackGenericService {
 public:
  explicit DelayedGrpcServer(absl::Duration delay)
      : delay_(delay), answerer_([this] { Answer(); }) {}

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext*) override {
    return new Call(this);
  }

 private:
  class Call : public grpc::ServerGenericBidiReactor {
   public:
    explicit Call(DelayedGrpcServer* server) : server_(server) { StartRead(&request_); }
    void OnReadDone(bool ok) override {
      if (!ok) return Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request"));
      server_->Later(this);
    }
    void Reply() {
      grpc::Slice empty;  // an empty message: a default ByteBuffer is not one
      reply_ = grpc::ByteBuffer(&empty, 1);
      StartWriteAndFinish(&reply_, grpc::WriteOptions(), grpc::Status::OK);
    }
    void OnDone() override { delete this; }

   private:
    DelayedGrpcServer* server_;
    grpc::ByteBuffer request_, reply_;
  };

  void Later(Call* call) {
    absl::MutexLock lock(&mu_);
    due_.push_back({absl::Now() + delay_, call});
  }
  void Answer() {  // runs until the process is killed
    while (true) {
      Call* call = nullptr;
      {
        absl::MutexLock lock(&mu_);
        if (!due_.empty() && due_.front().first <= absl::Now()) {
          call = due_.front().second;
          due_.pop_front();
        }
      }
      if (call != nullptr) {
        call->Reply();
      } else {
        absl::SleepFor(absl::Milliseconds(2));
      }
    }
  }

  const absl::Duration delay_;
  absl::Mutex mu_;
  std::deque<std::pair<absl::Time, Call*>> due_ ABSL_GUARDED_BY(mu_);
  std::thread answerer_;
};

// Serves HTTP on `listener` from one epoll thread: every request is answered 200 with
// an empty body `delay` after it arrived, on a kept-alive connection. Runs until the
// process is killed.
[[noreturn]] void ServeDelayedHttp(int listener, absl::Duration delay) {
  const int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listener;
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  std::map<int, std::string> input;                // per connection, what came so far
  std::deque<std::pair<absl::Time, int>> due;      // answers owed, in arrival order
  static constexpr char kAnswer[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  std::vector<epoll_event> events(1024);
  while (true) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 2);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listener) {
        for (int c; (c = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) {
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
          input[c];
        }
        continue;
      }
      char buffer[8192];
      const ssize_t got = read(fd, buffer, sizeof(buffer));
      if (got <= 0) {
        close(fd);
        input.erase(fd);
        continue;
      }
      std::string& in = input[fd];
      in.append(buffer, got);
      // Whole requests: a head, then Content-Length bytes of body.
      for (size_t end; (end = in.find("\r\n\r\n")) != std::string::npos;) {
        size_t length = 0;
        const size_t at = in.find("Content-Length: ");
        if (at != std::string::npos && at < end) length = std::atol(in.c_str() + at + 16);
        if (in.size() < end + 4 + length) break;
        in.erase(0, end + 4 + length);
        due.push_back({absl::Now() + delay, fd});
      }
    }
    for (const absl::Time now = absl::Now(); !due.empty() && due.front().first <= now;) {
      const int fd = due.front().second;
      due.pop_front();
      if (input.count(fd) != 0) (void)!write(fd, kAnswer, sizeof(kAnswer) - 1);
    }
  }
}

}  // namespace

// Forks a child that serves ServeDelayedHttp on 127.0.0.1; returns its pid and port.
std::pair<pid_t, int> StartHttpBranches(absl::Duration delay) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listener, 4096) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::abort();
  }
  const pid_t pid = fork();
  if (pid == 0) ServeDelayedHttp(listener, delay);
  close(listener);
  return {pid, ntohs(addr.sin_port)};
}

// Forks a child that serves DelayedGrpcServer on 127.0.0.1 until it is killed;
// returns its pid and port. Call before this process starts any thread.
std::pair<pid_t, int> StartGrpcBranches(absl::Duration delay) {
  int out[2];
  if (pipe(out) != 0) std::abort();
  const pid_t pid = fork();
  if (pid == 0) {
    close(out[0]);
    DelayedGrpcServer service(delay);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterCallbackGenericService(&service);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (server == nullptr || write(out[1], &port, sizeof(port)) != sizeof(port)) _exit(1);
    server->Wait();
    _exit(0);
  }
  close(out[1]);
  int port = 0;
  if (read(out[0], &port, sizeof(port)) != sizeof(port)) std::abort();
  close(out[0]);
  return {pid, port};
}


}  // namespace dtx::bench
