// A transaction mode's decisions, with no I/O (STYLE.md, "Engines without I/O").
//
// A machine holds one pass's view of a transaction: its global status, its branch rows
// and what this pass has called and heard so far. The actor (engine/pass.h) feeds it
// events and asks it what to do:
//
//   Answer(branch, status)  a branch call answered
//   Decide(now)             a change of the global status to store, if one is due
//   Committed(transition)   that change is stored
//   Calls(now, budget)      the branches to call now (marked in flight)
//   Idle(now)               nothing is in flight and nothing to call: when the next
//                           pass should run, or nullopt to decide again
//
// Saga, TCC and msg are the machines of this version (one file each); the actor, the
// lease, the store writes, the calls and the backoff are the same for all of them.
// Not thread-safe: the actor drives a machine from one thread at a time.
#ifndef DTX_ENGINE_MACHINE_H_
#define DTX_ENGINE_MACHINE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "dtx/result.h"
#include "engine/state.h"

namespace dtx::engine {

// What a machine reads of the global row.
struct Trans {
  std::string gid;
  Mode mode = Mode::kSaga;
  Status status = Status::kSubmitted;
  absl::Time create_time = absl::InfinitePast();
  // Zero: never. The coordinator has put its default in for TCC and msg.
  absl::Duration timeout_to_fail = absl::ZeroDuration();
  int64_t retry_limit = 0;  // 0: no limit
  int64_t retry_count = 0;
  std::string custom_data;
  std::string query_prepared;  // msg: the back-check URL
};

// Branch indexes (or kQueryPrepared): a few at a time, kept without allocating.
using BranchList = absl::InlinedVector<int, 8>;

// A change of the global status.
struct Transition {
  Status to;
  std::string reason;  // the rollback reason it records; empty: none
  friend bool operator==(const Transition& a, const Transition& b) {
    return a.to == b.to && a.reason == b.reason;
  }
};

// When the next pass runs, for a pass that ends with the transaction unfinished.
struct Rest {
  // True: something answered ONGOING or an error (or could not be asked); the next
  // pass is a retry, after the actor's backoff, but no later than `not_after`.
  // False: nothing failed; the next pass is due exactly at `not_after` (a deadline
  // or a delay of the mode).
  bool retry = true;
  absl::Time not_after = absl::InfiniteFuture();
  friend bool operator==(const Rest& a, const Rest& b) {
    return a.retry == b.retry && a.not_after == b.not_after;
  }
};

class Machine {
 public:
  // kInternal when the rows do not fit the mode (a corrupt store: the coordinator
  // leaves such a transaction to an operator).
  static absl::StatusOr<std::unique_ptr<Machine>> Create(Trans trans,
                                                         std::vector<Branch> branches);
  virtual ~Machine() = default;

  // ---- events ----
  // The call of `branch` (an index in branches(), or kQueryPrepared) answered, in the
  // result vocabulary of dtx/result.h. REQUIRES: that call is in flight.
  void Answer(int branch, const absl::Status& answer);
  // `t`, which Decide returned, is stored: the machine's status moves on.
  void Committed(const Transition& t);

  // ---- decisions ----
  virtual std::optional<Transition> Decide(absl::Time now) = 0;
  // At most `budget` calls; each is marked in flight and tried (in this pass).
  virtual BranchList Calls(absl::Time now, int budget) = 0;
  // REQUIRES: in_flight() == 0 and Calls() asked for nothing.
  virtual std::optional<Rest> Idle(absl::Time now) = 0;

  // ---- what the actor reads ----
  const Trans& trans() const { return trans_; }
  const std::vector<Branch>& branches() const { return branches_; }
  int in_flight() const { return in_flight_; }
  // Branches whose status an answer changed, since the last call (to store).
  BranchList TakeChanged() { return std::exchange(changed_, {}); }
  // Whether an answer was an error (not ONGOING) and whether one succeeded: the
  // actor backs off further only after a pass that failed and got nowhere.
  bool saw_error() const { return saw_error_; }
  bool progressed() const { return progressed_; }
  // The last error or ONGOING answer of this pass, for operators; empty: none.
  const std::string& last_error() const { return last_error_; }

 protected:
  Machine(Trans trans, std::vector<Branch> branches)
      : trans_(std::move(trans)), branches_(std::move(branches)) {}

  // A FAILURE answer. Default: as an error (the call is retried with backoff): a
  // confirm, cancel, compensation or message action cannot refuse.
  virtual void OnFailure(int branch, absl::string_view message);
  // The back-check's answer (msg only).
  virtual void OnBackCheck(BranchResult result, absl::string_view message) {}
  // `branch` answered ONGOING or an error (already recorded). Default: nothing; it is
  // called again by a later pass.
  virtual void OnNotDone(int branch) {}

  // `branch`'s status changed: TakeChanged reports it.
  void MarkChanged(int branch) { changed_.push_back(branch); }
  // Marks a call in flight and tried.
  void Call(int branch, BranchList& calls);
  // Records an error for operators and for the backoff.
  void Error(int branch, absl::string_view what);
  // "action 02 'url'", to start a message about `branch`.
  std::string Describe(int branch) const;
  // When the transaction times out (create_time + timeout_to_fail): InfiniteFuture
  // without a timeout_to_fail.
  absl::Time Deadline() const;
  bool TimedOut(absl::Time now) const { return now >= Deadline(); }
  // The rollback reason of a timeout, DTM's "Timeout after N seconds".
  std::string TimeoutReason() const;
  // Counts this pass as a retry, once per pass; true the first time.
  bool CountRetry();
  // Whether `branch` may be called now: prepared, not in flight, not yet tried.
  bool Callable(int branch) const;

  Trans trans_;
  std::vector<Branch> branches_;
  // The back-check (kQueryPrepared), called by Call like a branch, at most once per
  // pass.
  bool back_check_tried_ = false;

 private:
  int in_flight_ = 0;
  BranchList changed_;
  bool saw_error_ = false;
  bool progressed_ = false;
  bool counted_retry_ = false;
  std::string last_error_;
};

}  // namespace dtx::engine

#endif  // DTX_ENGINE_MACHINE_H_
