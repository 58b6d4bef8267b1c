// Bounds the branch calls a coordinator has in flight at once, over all transactions:
// past the limit a call waits, in order, for one to end. One transaction is already
// bounded by CoordinatorOptions::max_calls_per_transaction; this bounds the process.
#ifndef DTX_INTERNAL_CALL_LIMITER_H_
#define DTX_INTERNAL_CALL_LIMITER_H_

#include <deque>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace dtx::internal {

// Thread-safe.
class CallLimiter {
 public:
  using Start = absl::AnyInvocable<void() &&>;

  // `limit` <= 0: no limit (every Start runs at once).
  explicit CallLimiter(int limit) : limit_(limit) {}

  // Runs `start` (which begins one call) now if fewer than `limit` calls are running,
  // else once enough of them have ended. Every call started must be followed by one
  // Done(), on any thread, possibly inside `start` itself.
  void Run(Start start);

  // A call ended: the next waiting one, if any, starts on this thread. Starts that end
  // at once (their Done inside) run one after another here, not nested.
  void Done();

  bool limited() const { return limit_ > 0; }

  // Calls running and waiting now.
  int running();
  int waiting();

 private:
  const int limit_;
  absl::Mutex mu_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Start> waiting_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dtx::internal

#endif  // DTX_INTERNAL_CALL_LIMITER_H_
