// One pass of the coordinator over one saga: from the stored state, call every branch
// that can run now, record each answer, move the global status on, and when nothing is
// left in flight either finish the saga or schedule its next pass. Answers are written
// to the store with the next write of the global row, not each on its own.
#ifndef DTX_INTERNAL_SAGA_PASS_H_
#define DTX_INTERNAL_SAGA_PASS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "dtx/coordinator.h"
#include "internal/call_limiter.h"

namespace dtx::internal {

// What a pass needs of its coordinator. It, and everything it points to, outlive every
// pass (a pass keeps a reference).
struct PassContext {
  Store* store;
  const CoordinatorOptions* options;
  std::string owner;
  std::function<double()> random;  // uniform in [0, 1); thread-safe
  CallLimiter* limiter;            // the process's calls in flight
};

// A pass is an actor: branch answers arrive on any thread and are queued; one thread
// at a time (whichever delivered the answer that found the pass idle) applies them,
// writes the store and issues the next calls. No thread waits for a branch.
class SagaPass : public std::enable_shared_from_this<SagaPass> {
 public:
  // Called once when the pass ends, with the global as the pass left it, and the
  // store error that cut the pass short, if any.
  using DoneCallback = absl::AnyInvocable<void(const TransGlobal&, absl::Status) &&>;

  // REQUIRES: `global` was claimed by ctx.owner (its next_cron_time is the lease's
  // end) and `branches` are its rows. kInternal if the rows are not a saga's.
  static absl::StatusOr<std::shared_ptr<SagaPass>> Create(
      const PassContext& ctx, TransGlobal global, std::vector<TransBranch> branches,
      DoneCallback done);

  // Runs the pass; returns once its first calls are issued (or it has ended).
  void Start();

 private:
  struct StepState {
    int action = -1;      // index in branches_
    int compensate = -1;  // index in branches_
    bool action_in_flight = false;
    bool compensate_in_flight = false;
    bool action_tried = false;      // called in this pass
    bool compensate_tried = false;  // called in this pass
  };
  // What a pass keeps of a branch row (a pass lives as long as its calls, which may be
  // many at once: no gid, no times).
  struct Branch {
    std::string url;
    std::string payload;
    std::string branch_id;
    std::string op;      // short enough to need no allocation
    std::string status;  // likewise
  };
  struct Answer {
    int branch;  // index in branches_
    absl::Status status;
  };

  SagaPass(const PassContext& ctx, TransGlobal global, std::vector<TransBranch> branches,
           DoneCallback done);
  absl::Status Index();

  void Post(Answer answer);
  void Drive();    // REQUIRES: this thread is the driver
  bool Advance();  // one round; false once the pass is over
  void Issue(int branch);
  void End(absl::Status error);

  bool ActionSucceeded(int step) const;
  bool NeedsCompensation(int step) const;
  bool CompensationSettled(int step) const;
  absl::Duration RequestTimeout() const;

  const PassContext& ctx_;
  TransGlobal global_;
  std::vector<Branch> branches_;
  std::vector<StepState> steps_;
  std::vector<std::vector<int>> preds_;
  std::vector<std::vector<int>> succs_;
  DoneCallback done_;

  // Pass state, touched only by the driver.
  int in_flight_ = 0;
  bool abort_wanted_ = false;
  std::string abort_reason_;
  bool saw_error_ = false;
  bool saw_ongoing_ = false;
  bool progressed_ = false;
  bool counted_retry_ = false;
  std::string last_error_;
  absl::Time lease_until_;
  // Branch results recorded in branches_ but not yet in the store.
  std::vector<BranchUpdate> unwritten_;
  absl::Status store_error_;  // a failed write: stop calling, drain, end
  bool ended_ = false;

  absl::Mutex mu_;
  std::vector<Answer> inbox_ ABSL_GUARDED_BY(mu_);
  bool driving_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace dtx::internal

#endif  // DTX_INTERNAL_SAGA_PASS_H_
