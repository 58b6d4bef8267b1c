// Branches that answer OK after a delay, for inflight_bench: an in-process
// asynchronous transport, and gRPC and HTTP servers run in a child process. None holds
// a thread per call waiting for its answer.
#ifndef DTX_BENCH_DELAYED_BRANCHES_H_
#define DTX_BENCH_DELAYED_BRANCHES_H_

#include <sys/types.h>

#include <deque>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dtx/transport.h"

namespace dtx::bench {

// Answers every call OK once `delay` has passed since it was made, from `threads`
// threads; holds nothing per call but the callback and its due time.
class DelayedTransport : public Transport {
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

  void Call(const BranchRequest&, Callback done) override {
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

// Forks a child serving gRPC on 127.0.0.1 (any method answers an empty message
// `delay` after its request) until it is killed; returns its pid and port. Call
// before this process starts any thread.
std::pair<pid_t, int> StartGrpcBranches(absl::Duration delay);

// Forks a child serving HTTP on 127.0.0.1 (any request answered 200 with an empty body
// `delay` after it arrived, connections kept alive) until it is killed; returns its pid
// and port. Call before this process starts any thread.
std::pair<pid_t, int> StartHttpBranches(absl::Duration delay);

}  // namespace dtx::bench

#endif  // DTX_BENCH_DELAYED_BRANCHES_H_
