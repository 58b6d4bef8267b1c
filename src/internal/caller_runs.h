// Lets a thread that would otherwise sit idle run blocking work itself, instead of
// handing it to another thread and waiting: a submit with wait_result runs its saga's
// branch calls on its own thread, one after the other, each answer leading to the
// next call there. Each hand-over saved is two context switches.
#ifndef DTX_INTERNAL_CALLER_RUNS_H_
#define DTX_INTERNAL_CALLER_RUNS_H_

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/notification.h"

namespace dtx::internal {

// Installed on a thread for its scope (scopes nest: the innermost one takes work).
// Holds at most one piece of work: a second offer is refused, so that work which could
// run in parallel (a concurrent saga's calls) still does. Not thread-safe: only its own
// thread touches it.
class CallerRuns {
 public:
  using Work = absl::AnyInvocable<void() &&>;

  CallerRuns();
  ~CallerRuns();  // runs what is still queued
  CallerRuns(const CallerRuns&) = delete;
  CallerRuns& operator=(const CallerRuns&) = delete;

  // Offers `work` to the current thread's CallerRuns. True, and `work` was taken, when
  // there is one and it holds nothing yet; false, and `work` is untouched, otherwise.
  static bool Offer(Work& work);
  // Whether Offer would take work now.
  static bool Available();

  // Runs queued work (and whatever it queues in turn) until none is left.
  void RunQueued();

  // RunQueued, then waits for `done`. REQUIRES: only work run here can notify `done`
  // or hand it on to other threads.
  void RunUntil(absl::Notification& done);

 private:
  CallerRuns* const outer_;
  Work queued_;
};

}  // namespace dtx::internal

#endif  // DTX_INTERNAL_CALLER_RUNS_H_
