// inflight_bench: many sagas in flight at once (P4 of issue 5). Prints the threads and
// the memory the coordinator holds per saga whose branch call is outstanding.
//
// Usage: inflight_bench [--sagas 10000] [--delay-ms 8000] [--clients 8] [--dir DIR]
//
// The coordinator is embedded, on a SQLite store (WAL, synchronous=FULL) in DIR. Its
// branches are a transport that answers every call OK after --delay-ms, from a few
// threads of its own, as an asynchronous client would: so all the sagas' first calls
// are outstanding at once. The program submits --sagas 2-step sagas (no wait_result)
// from --clients threads, waits until every first call is outstanding, and prints the
// process's threads, resident memory and heap in use then, against the same figures
// after a warm-up that ran 1000 sagas to their end. Then it waits until every saga has
// succeeded (read back from the store) and exits 0, or 1 if any did not.
#include <malloc.h>
#include <soci/soci.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "dtx/coordinator.h"
#include "dtx/gid.h"
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

// Submits `count` 2-step sagas from `clients` threads; returns how many were accepted.
long Submit(dtx::Coordinator& coordinator, long count, int clients) {
  std::atomic<long> next{0}, accepted{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      dtx::GidGenerator gids;
      while (next++ < count) {
        dtx::Saga saga(&coordinator, gids.Next());
        saga.Add("delayed://a", "delayed://a-revert", R"({"amount":30})")
            .Add("delayed://b", "delayed://b-revert", R"({"amount":30})")
            .Protocol("delayed")
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
  std::string dir;
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
    } else {
      std::fprintf(stderr,
                   "usage: inflight_bench [--sagas N] [--delay-ms MS] [--clients N] "
                   "[--dir DIR]\n");
      return 2;
    }
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
  DelayedTransport branches(absl::ZeroDuration(), /*threads=*/8);
  dtx::CoordinatorOptions options;
  options.store = store->get();
  options.transports = {{"delayed", &branches}};
  auto coordinator = dtx::Coordinator::Start(options);
  if (!coordinator.ok()) return 1;

  // Warm-up: sagas that run to their end, so that pools, caches and arenas exist.
  constexpr long kWarmUp = 1000;
  Submit(**coordinator, kWarmUp, clients);
  while (CountSucceeded(url) < kWarmUp) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const ProcessFigures before = Measure();

  branches.SetDelay(absl::Milliseconds(delay_ms));
  const auto start = std::chrono::steady_clock::now();
  const long accepted = Submit(**coordinator, sagas, clients);
  const double submit_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  while (branches.outstanding() < accepted &&
         std::chrono::steady_clock::now() - start <
             std::chrono::milliseconds(delay_ms)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const long in_flight = branches.outstanding();
  const ProcessFigures peak = Measure();

  std::printf("inflight_bench: %d cores, SQLite store (WAL, FULL), branches answer after %ld ms\n",
              static_cast<int>(std::thread::hardware_concurrency()), delay_ms);
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

  const long want = kWarmUp + accepted;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(3 * delay_ms) + std::chrono::seconds(60);
  long succeeded = 0;
  while ((succeeded = CountSucceeded(url)) < want &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::printf("succeeded: %ld of %ld\n", succeeded - kWarmUp, accepted);
  (*coordinator)->Shutdown();
  return succeeded == want && accepted == sagas ? 0 : 1;
}
