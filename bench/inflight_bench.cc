// inflight_bench: many sagas in flight at once (P4 of issue 5). Prints the threads and
// the memory the coordinator holds per saga whose branch call is outstanding.
//
// Usage: inflight_bench [--sagas 10000] [--delay-ms 8000] [--clients 8] [--dir DIR]
//                       [--transport local|grpc|http] [--max-calls-in-flight N]
//
// The coordinator is embedded, on a SQLite store (WAL, synchronous=FULL) in DIR. Its
// branches answer every call OK after --delay-ms, so all the sagas' first calls are
// outstanding at once. --transport local: an in-process transport answers from a few
// threads of its own, as an asynchronous client would (the coordinator alone is
// measured). --transport grpc: GrpcTransport over 127.0.0.1 to a gRPC server in a
// child process (callback API: a call waiting for its answer holds no thread there
// either), so the figures include the client side of each real call. --transport
// http: HttpTransport over 127.0.0.1 to an epoll HTTP server in a child process (one
// connection per call in flight). The program submits --sagas 2-step sagas (no
// wait_result) from --clients threads, waits until every first call is outstanding, and
// prints the process's threads, resident memory and heap in use then, against the same
// figures after a warm-up that ran 1000 sagas to their end. Then it waits until every
// saga has succeeded (read back from the store) and exits 0, or 1 if any did not.
//
// --max-calls-in-flight N (CoordinatorOptions::max_calls_in_flight, dtxd's
// --max-calls-in-flight, 4096 by default there): at most N calls are outstanding and
// the other sagas' passes wait for a slot, holding no call; the figures are then per
// saga in flight, called or waiting, measured once N calls are outstanding and the
// submits have had a second more to queue.
#include <malloc.h>
#include <signal.h>
#include <soci/soci.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "delayed_branches.h"
#include "dtx/coordinator.h"
#include "dtx/gid.h"
#include "dtx/grpc/grpc_transport.h"
#include "dtx/http/http_transport.h"
#include "dtx/saga.h"
#include "dtx/soci/soci_store.h"
#include "dtx/soci/storage_url.h"
#include "dtx/transport.h"

namespace {

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
  sql << "SELECT count(*) FROM dtx_trans WHERE status = 'succeed'", soci::into(n);
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
  int max_calls = 0;
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
    } else if (name == "--max-calls-in-flight") {
      max_calls = std::max(0, std::atoi(value.c_str()));
    } else if (name == "--transport" &&
               (value == "local" || value == "grpc" || value == "http")) {
      transport = value;
    } else {
      std::fprintf(stderr,
                   "usage: inflight_bench [--sagas N] [--delay-ms MS] [--clients N] "
                   "[--dir DIR] [--transport local|grpc|http] "
                   "[--max-calls-in-flight N]\n");
      return 2;
    }
  }
  pid_t child = -1;  // the branches' server, for grpc and http
  int port = 0;
  if (transport == "grpc") {
    std::tie(child, port) = dtx::bench::StartGrpcBranches(absl::Milliseconds(delay_ms));
  } else if (transport == "http") {
    std::tie(child, port) = dtx::bench::StartHttpBranches(absl::Milliseconds(delay_ms));
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
  dtx::bench::DelayedTransport local(absl::ZeroDuration(), /*threads=*/8);
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
  options.max_calls_in_flight = max_calls;
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
  const long callable = max_calls > 0 ? std::min<long>(accepted, max_calls) : accepted;
  while (branches->outstanding() < callable &&
         std::chrono::steady_clock::now() - start < std::chrono::milliseconds(delay_ms)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (max_calls > 0) std::this_thread::sleep_for(std::chrono::seconds(1));
  const long outstanding = branches->outstanding();
  // Every accepted saga is in flight: its call outstanding, or waiting for a slot.
  const long in_flight = max_calls > 0 ? accepted : outstanding;
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
  std::printf("branch calls outstanding at once: %ld", outstanding);
  if (max_calls > 0) {
    std::printf(" (max_calls_in_flight %d; %ld sagas in flight)", max_calls, in_flight);
  }
  std::printf("\n");
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
  // Two calls per saga; with a cap, they go max_calls at a time.
  const long rounds = max_calls > 0 ? (2 * accepted + max_calls - 1) / max_calls : 2;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds((rounds + 1) * delay_ms) +
                        std::chrono::seconds(60);
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
