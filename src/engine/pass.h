// One pass of the coordinator over one transaction, of any mode: the actor around a
// mode's machine (engine/machine.h). It holds the lease, writes what the machine
// decides to the store, makes the calls it asks for through the transports, and
// schedules the next pass with the backoff. Answers are written with the next write
// of the global row, not each on its own.
#ifndef DTX_ENGINE_PASS_H_
#define DTX_ENGINE_PASS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "dtx/coordinator.h"
#include "engine/machine.h"
#include "internal/call_limiter.h"
#include "observer.h"

namespace dtx::engine {

// What a pass needs of its coordinator. It, and everything it points to, outlive every
// pass (a pass keeps a reference).
struct PassContext {
  Store* store;
  const CoordinatorOptions* options;
  std::string owner;
  std::function<double()> random;  // uniform in [0, 1); thread-safe
  internal::CallLimiter* limiter;  // the process's calls in flight
  internal::Observer* observer;    // logs, metrics, spans
};

// The machine's view of a stored transaction: statuses and ops parsed, the
// coordinator's defaults applied. kInternal for a status, op or trans_type that is not
// DTM's.
absl::StatusOr<Trans> TransOf(const TransGlobal& global, const CoordinatorOptions& options);
absl::StatusOr<std::vector<Branch>> BranchesOf(std::vector<TransBranch> rows);

// A pass is an actor: branch answers arrive on any thread and are queued; one thread
// at a time (whichever delivered the answer that found the pass idle) applies them,
// writes the store and issues the next calls. No thread waits for a branch.
class Pass : public std::enable_shared_from_this<Pass> {
 public:
  // Called once when the pass ends, with the global as the pass left it, and the
  // store error that cut the pass short, if any.
  using DoneCallback = absl::AnyInvocable<void(const TransGlobal&, absl::Status) &&>;

  // REQUIRES: `global` was claimed by ctx.owner (its next_cron_time is the lease's
  // end) and `branches` are its rows. kInternal if the rows do not fit its mode;
  // `done` and `early` are then left to the caller (moved from only when a pass is
  // made). `runner` (may be null; not owned) goes with every call, until the final
  // status is decided: it outlives the pass, or that. `early` (may be empty): under
  // answer_before_final_write, called once the final status is decided, with the
  // global as its write will leave it, before that write; dropped if the pass ends
  // otherwise.
  static absl::StatusOr<std::shared_ptr<Pass>> Create(
      const PassContext& ctx, TransGlobal&& global, std::vector<TransBranch>&& branches,
      CallRunner* runner, DoneCallback&& done, DoneCallback&& early = nullptr);

  // Runs the pass; returns once its first calls are issued (or it has ended).
  void Start();

 private:
  struct Answer {
    int branch;  // index in the machine's branches, or kQueryPrepared
    absl::Status status;
    double seconds = -1;  // how long the call took; negative: no call was made
  };

  Pass(const PassContext& ctx, TransGlobal&& global, std::unique_ptr<Machine> machine,
       CallRunner* runner, DoneCallback done, DoneCallback early);

  void Post(Answer answer);
  void Drive();    // REQUIRES: this thread is the driver
  bool Advance();  // one round; false once the pass is over
  // Writes `update` with the branch results not yet stored; on success the global
  // row here follows. A failure is kept in store_error_.
  absl::Status Write(const GlobalUpdate& update, absl::Time now);
  // Moves the machine's branch results not yet stored into results_.
  void TakeResults();
  // After `update` was written: the observer told, the global row here following.
  void Wrote(const GlobalUpdate& update);
  // `global` as `update` leaves it.
  static void Apply(const GlobalUpdate& update, TransGlobal& global);
  // Under answer_before_final_write: the final write (of transition `t`), lazy, and
  // the end of the pass once it is durable, on the thread that commits it; this
  // thread goes on at once.
  void WriteFinal(GlobalUpdate update, const Transition& t, absl::Time now);
  // Reads the branch rows again into a new machine (same transaction state). A TCC
  // that leaves `prepared` needs it: its client may have registered branches after
  // this pass read them and before the status changed (registerBranch needs
  // `prepared`, so none comes after). REQUIRES: nothing in flight. A failure is kept
  // in store_error_.
  absl::Status Reload();
  // When the next pass runs, for a pass that ends with the transaction unfinished.
  GlobalUpdate Schedule(const Rest& rest, absl::Time now) const;
  void Issue(int branch);
  // Tells the observer how a call went. REQUIRES: the driver.
  void Observe(const Answer& answer);
  void End(absl::Status error);
  absl::Duration RequestTimeout() const;

  const PassContext& ctx_;
  TransGlobal global_;
  std::unique_ptr<Span> span_;  // with a tracer: this pass's
  std::unique_ptr<Machine> machine_;
  CallRunner* runner_;  // null once the pass no longer needs its thread
  DoneCallback done_;
  DoneCallback early_;  // the answer before the final write

  // Touched only by the driver.
  absl::Time lease_until_;
  std::vector<BranchUpdate> results_;  // Write's, kept for its capacity
  absl::Status store_error_;  // a failed write: stop calling, drain, end
  bool ended_ = false;

  absl::Mutex mu_;
  std::vector<Answer> inbox_ ABSL_GUARDED_BY(mu_);
  bool driving_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace dtx::engine

#endif  // DTX_ENGINE_PASS_H_
