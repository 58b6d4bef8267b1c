// inflight_bench: many sagas in flight at once (P4 of issue 5). Prints the threads and
// the memory the coordinator holds per saga whose branch call is outstanding.
//
// Usage: inflight_bench [--sagas 10000] [--delay-ms 8000] [--clients 8] [--dir DIR]
//                       [--transport local|grpc|http]
//
// The coordinator is embedded, on a SQLite store (WAL, synchronous=FULL) in DIR. Its
// branches answer every call OK after --delay-ms, so all the sagas' first calls are
// outstanding at once. --transport local: an in-process transport answers from a few
// threads of its own, as an asynchronous client would (the coordinator alone is
// measured). --transport grpc: GrpcTransport over 127.0.0.1 to a gRPC server in a
// child process (callback API: a call waiting for its answer holds no thread there
// either), so the figures include the client side of each real call. --transport
// http: HttpTransport over 127.0.0.1 to an epoll HTTP server in a child process (one
// connection per call in flight). The program submits --sagas 2-step sagas (no wait_result)
// from --clients threads, waits until every first call is outstanding, and prints the
// process's threads, resident memory and heap in use then, against the same figures
// after a warm-up that ran 1000 sagas to their end. Then it waits until every saga has
// succeeded (read back from the store) and exits 0, or 1 if any did not.
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <malloc.h>
#include <signal.h>
#include <soci/soci.h>
#include <sqlite3.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "dtx/coordinator.h"
#include "dtx/gid.h"
#include "dtx/grpc/grpc_transport.h"
#include "dtx/http/http_transport.h"
#include "dtx/saga.h"
#include "dtx/soci/soci_store.h"
#include "dtx/soci/storage_url.h"
#include "dtx/transport.h"

namespace {

// Answers every call OK once `delay` has passed since it was made, from `threads`
// threads; holds nothing per call but the callback and its due time.
class DelayedTransport : public dtx::Transport {
 public:
  DelayedTransport(absl::Duration delay, int threads) : delay_(delay) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Deliver(); });
  }
  ~DelayedTransport() override {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    for (std::thread& t : threads_) t.join();
  }

  void Call(const dtx::BranchRequest&, Callback done) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back({absl::Now() + delay_, std::move(done)});
    ++outstanding_;
  }

  void SetDelay(absl::Duration delay) {
    absl::MutexLock lock(&mu_);
    delay_ = delay;
  }
  long outstanding() {
    absl::MutexLock lock(&mu_);
    return outstanding_;
  }

 private:
  struct Pending {
    absl::Time due;
    Callback done;
  };

  void Deliver() {
    while (true) {
      Callback done;
      {
        absl::MutexLock lock(&mu_);
        while (true) {
          if (stopping_) return;
          if (!calls_.empty() && calls_.front().due <= absl::Now()) break;
          const absl::Time wake = calls_.empty() ? absl::Now() + absl::Milliseconds(50)
                                                 : calls_.front().due;
          mu_.AwaitWithDeadline(absl::Condition(&stopping_), wake);
        }
        done = std::move(calls_.front().done);
        calls_.pop_front();
      }
      std::move(done)(absl::OkStatus());
      absl::MutexLock lock(&mu_);
      --outstanding_;
    }
  }

  absl::Mutex mu_;
  absl::Duration delay_ ABSL_GUARDED_BY(mu_);
  std::deque<Pending> calls_ ABSL_GUARDED_BY(mu_);  // due times in call order
  long outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

// Counts the calls of `target` whose answer has not come yet.
class CountingTransport : public dtx::TransportWrapper {
 public:
  using TransportWrapper::TransportWrapper;
  void Call(const dtx::BranchRequest& request, Callback done) override {
    ++outstanding_;
    target()->Call(request, [this, done = std::move(done)](absl::Status s) mutable {
      --outstanding_;
      std::move(done)(std::move(s));
    });
  }
  long outstanding() const { return outstanding_; }

 private:
  std::atomic<long> outstanding_{0};
};

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

struct ProcessFigures {
  long threads = 0;
  long rss_kib = 0;
  size_t heap_bytes = 0;    // malloc'd and not freed
  int64_t sqlite_bytes = 0;  // of which SQLite's (its page cache, mostly)
};

ProcessFigures Measure() {
  ProcessFigures f;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) f.threads = std::atol(line.c_str() + 8);
    if (line.rfind("VmRSS:", 0) == 0) f.rss_kib = std::atol(line.c_str() + 6);
  }
  f.heap_bytes = mallinfo2().uordblks;
  f.sqlite_bytes = sqlite3_memory_used();
  return f;
}

long CountSucceeded(const std::string& url) {
  soci::session sql;
  if (!dtx::OpenSession(sql, url).ok()) return -1;
  long long n = 0;
  sql << "SELECT count(*) FROM trans_global WHERE status = 'succeed'", soci::into(n);
  return static_cast<long>(n);
}

// Where the sagas' branches are.
struct Branches {
  std::string protocol, a, a_revert, b, b_revert;
};

// Submits `count` 2-step sagas from `clients` threads; returns how many were accepted.
long Submit(dtx::Coordinator& coordinator, const Branches& urls, long count,
            int clients) {
  std::atomic<long> next{0}, accepted{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      dtx::GidGenerator gids;
      while (next++ < count) {
        dtx::Saga saga(&coordinator, gids.Next());
        saga.Add(urls.a, urls.a_revert, R"({"amount":30})")
            .Add(urls.b, urls.b_revert, R"({"amount":30})")
            .Protocol(urls.protocol)
            .RequestTimeout(absl::Seconds(60));
        accepted += saga.Submit().ok();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return accepted;
}

}  // namespace

int main(int argc, char** argv) {
  long sagas = 10000;
  long delay_ms = 8000;
  int clients = 8;
  std::string dir, transport = "local";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i], value = argv[i + 1];
    if (name == "--sagas") {
      sagas = std::atol(value.c_str());
    } else if (name == "--delay-ms") {
      delay_ms = std::atol(value.c_str());
    } else if (name == "--clients") {
      clients = std::max(1, std::atoi(value.c_str()));
    } else if (name == "--dir") {
      dir = value;
    } else if (name == "--transport" &&
               (value == "local" || value == "grpc" || value == "http")) {
      transport = value;
    } else {
      std::fprintf(stderr,
                   "usage: inflight_bench [--sagas N] [--delay-ms MS] [--clients N] "
                   "[--dir DIR] [--transport local|grpc|http]\n");
      return 2;
    }
  }
  pid_t child = -1;  // the branches' server, for grpc and http
  int port = 0;
  if (transport == "grpc") {
    std::tie(child, port) = StartGrpcBranches(absl::Milliseconds(delay_ms));
  } else if (transport == "http") {
    std::tie(child, port) = StartHttpBranches(absl::Milliseconds(delay_ms));
  }
  if (dir.empty()) {
    char tmpl[] = "/tmp/dtx-inflight-XXXXXX";
    dir = mkdtemp(tmpl);
  }
  const std::string url = "sqlite://" + dir + "/dtx.db";
  std::filesystem::remove(dir + "/dtx.db");

  auto store = dtx::SociStore::Open({.url = url});
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  // The warm-up's branches answer at once; then they answer after the delay.
  DelayedTransport local(absl::ZeroDuration(), /*threads=*/8);
  CountingTransport local_counted(&local);
  std::unique_ptr<dtx::Transport> remote;  // GrpcTransport or HttpTransport
  std::unique_ptr<CountingTransport> remote_counted;
  CountingTransport* branches = &local_counted;  // the measured sagas' branches
  Branches warm_up_urls = {"local", "local://a", "local://a-revert", "local://b",
                           "local://b-revert"};
  Branches urls = warm_up_urls;
  if (transport == "grpc") {
    const std::string target = "127.0.0.1:" + std::to_string(port);
    urls = {"grpc", target + "/bench.Branch/A", target + "/bench.Branch/ARevert",
            target + "/bench.Branch/B", target + "/bench.Branch/BRevert"};
    remote = std::make_unique<dtx::GrpcTransport>();
  } else if (transport == "http") {
    const std::string base = "http://127.0.0.1:" + std::to_string(port);
    urls = {"http", base + "/a", base + "/a-revert", base + "/b", base + "/b-revert"};
    remote = std::make_unique<dtx::HttpTransport>();
  }
  if (remote != nullptr) {
    remote_counted = std::make_unique<CountingTransport>(remote.get());
    branches = remote_counted.get();
  }
  dtx::CoordinatorOptions options;
  options.store = store->get();
  options.transports = {{"local", &local_counted}};
  if (remote_counted != nullptr) options.transports[urls.protocol] = remote_counted.get();
  auto coordinator = dtx::Coordinator::Start(options);
  if (!coordinator.ok()) return 1;

  // Warm-up: sagas that run to their end, so that pools, caches and arenas exist.
  constexpr long kWarmUp = 1000;
  Submit(**coordinator, warm_up_urls, kWarmUp, clients);
  while (CountSucceeded(url) < kWarmUp) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (remote != nullptr) {  // one saga, so that the client exists before the baseline
    Submit(**coordinator, urls, 1, 1);
    while (CountSucceeded(url) < kWarmUp + 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  const long warmed = CountSucceeded(url);
  const ProcessFigures before = Measure();

  local.SetDelay(absl::Milliseconds(delay_ms));
  const auto start = std::chrono::steady_clock::now();
  const long accepted = Submit(**coordinator, urls, sagas, clients);
  const double submit_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  while (branches->outstanding() < accepted &&
         std::chrono::steady_clock::now() - start <
             std::chrono::milliseconds(delay_ms)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const long in_flight = branches->outstanding();
  const ProcessFigures peak = Measure();

  std::printf(
      "inflight_bench: %d cores, SQLite store (WAL, FULL), %s branches answering after "
      "%ld ms\n",
      static_cast<int>(std::thread::hardware_concurrency()),
      transport == "grpc"   ? "gRPC (127.0.0.1, another process)"
      : transport == "http" ? "HTTP (127.0.0.1, another process)"
                            : "in-process",
      delay_ms);
  std::printf("submitted %ld of %ld sagas in %.2f s (%d clients, no wait_result)\n",
              accepted, sagas, submit_s, clients);
  std::printf("branch calls outstanding at once: %ld\n", in_flight);
  std::printf("threads: %ld after warm-up, %ld with all in flight\n", before.threads,
              peak.threads);
  if (in_flight > 0) {
    std::printf("resident memory: %ld KiB -> %ld KiB: %.0f bytes per saga in flight\n",
                before.rss_kib, peak.rss_kib,
                (peak.rss_kib - before.rss_kib) * 1024.0 / in_flight);
    std::printf("heap in use:     %zu KiB -> %zu KiB: %.0f bytes per saga in flight\n",
                before.heap_bytes / 1024, peak.heap_bytes / 1024,
                (static_cast<double>(peak.heap_bytes) - before.heap_bytes) / in_flight);
    std::printf("  of which SQLite's page cache and statements: %ld KiB -> %ld KiB\n",
                static_cast<long>(before.sqlite_bytes / 1024),
                static_cast<long>(peak.sqlite_bytes / 1024));
    const double coordinator_heap =
        (static_cast<double>(peak.heap_bytes) - peak.sqlite_bytes) -
        (static_cast<double>(before.heap_bytes) - before.sqlite_bytes);
    std::printf("heap in use outside SQLite: %.0f bytes per saga in flight\n",
                coordinator_heap / in_flight);
  }
  std::fflush(stdout);

  const long want = warmed + accepted;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(3 * delay_ms) + std::chrono::seconds(60);
  long succeeded = 0;
  while ((succeeded = CountSucceeded(url)) < want &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::printf("succeeded: %ld of %ld\n", succeeded - warmed, accepted);
  (*coordinator)->Shutdown();
  if (child > 0) {
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  }
  return succeeded == want && accepted == sagas ? 0 : 1;
}
