// The CallRunner (dtx/transport.h) of a thread that waits for a pass: a submit with
// wait_result runs its saga's blocking branch calls on its own thread, one after the
// other, each answer leading to the next call there. Each hand-over saved is two
// context switches.
#ifndef DTX_INTERNAL_CALLER_RUNS_H_
#define DTX_INTERNAL_CALLER_RUNS_H_

#include <thread>

#include "absl/synchronization/notification.h"
#include "dtx/transport.h"

namespace dtx::internal {

// Created on the waiting thread; takes work only from that thread (see CallRunner),
// so it needs no lock. Holds at most one piece of work.
class CallerRuns final : public CallRunner {
 public:
  CallerRuns() : owner_(std::this_thread::get_id()) {}
  ~CallerRuns() override { RunQueued(); }
  CallerRuns(const CallerRuns&) = delete;
  CallerRuns& operator=(const CallerRuns&) = delete;

  bool Free() const override;
  bool Offer(Work& work) override;

  // Runs queued work (and whatever it queues in turn) until none is left.
  void RunQueued();

  // RunQueued, then waits for `done`. REQUIRES: only work run here can notify `done`
  // or hand it on to other threads.
  void RunUntil(absl::Notification& done);

 private:
  const std::thread::id owner_;
  Work queued_;
};

}  // namespace dtx::internal

#endif  // DTX_INTERNAL_CALLER_RUNS_H_
