#include "engine/saga_machine.h"

#include <algorithm>
#include <charconv>

#include "absl/strings/str_cat.h"
#include "dtx/transaction.h"

namespace dtx::engine {

absl::StatusOr<std::unique_ptr<Machine>> SagaMachine::Create(
    Trans trans, std::vector<Branch> branches) {
  std::unique_ptr<SagaMachine> m(new SagaMachine(std::move(trans), std::move(branches)));
  if (absl::Status s = m->Index(); !s.ok()) return s;
  return m;
}

absl::Status SagaMachine::Index() {
  const std::string& gid = trans_.gid;
  if (branches_.size() % 2 != 0) {
    return absl::InternalError(absl::StrCat("saga ", gid, " has an odd number (",
                                            branches_.size(), ") of branch rows"));
  }
  const int step_count = static_cast<int>(branches_.size() / 2);
  steps_.assign(step_count, Step{});
  for (int i = 0; i < static_cast<int>(branches_.size()); ++i) {
    const Branch& b = branches_[i];
    int number = 0;
    const char* end = b.branch_id.data() + b.branch_id.size();
    auto [ptr, ec] = std::from_chars(b.branch_id.data(), end, number);
    if (ec != std::errc() || ptr != end || number < 1 || number > step_count) {
      return absl::InternalError(
          absl::StrCat("saga ", gid, " has an unexpected branch id '", b.branch_id, "'"));
    }
    Step& step = steps_[number - 1];
    int* slot = b.op == Op::kAction       ? &step.action
                : b.op == Op::kCompensate ? &step.compensate
                                          : nullptr;
    if (slot == nullptr || *slot != -1) {
      return absl::InternalError(absl::StrCat("saga ", gid, " branch ", b.branch_id,
                                              " has op '", Name(b.op),
                                              "' twice or an op sagas do not use"));
    }
    *slot = i;
  }
  absl::StatusOr<SagaOrders> orders = ParseSagaOrders(trans_.custom_data, step_count);
  if (!orders.ok()) return absl::InternalError(std::string(orders.status().message()));
  preds_ = Predecessors(*orders, step_count);
  succs_.assign(step_count, {});
  for (int s = 0; s < step_count; ++s) {
    for (int p : preds_[s]) succs_[p].push_back(s);
  }
  return absl::OkStatus();
}

void SagaMachine::OnFailure(int branch, absl::string_view message) {
  Branch& b = branches_[branch];
  if (b.op != Op::kAction) {  // a compensation cannot refuse: it is retried
    Machine::OnFailure(branch, message);
    return;
  }
  b.status = Status::kFailed;
  WantAbort(
      absl::StrCat("action ", b.branch_id, " '", b.url, "' answered FAILURE: ", message));
  MarkChanged(branch);  // stored with the next write, like a success
}

// DTM's retry_limit: an action answering ONGOING or an error is called again at once,
// in this pass, while retry_count < retry_limit (each retry counted); then the saga
// rolls back. So a wait_result submit answers with the outcome.
void SagaMachine::OnNotDone(int branch) {
  const int64_t limit = trans_.retry_limit;
  if (limit <= 0 || branches_[branch].op != Op::kAction ||
      trans_.status != Status::kSubmitted || abort_wanted_) {
    return;
  }
  if (trans_.retry_count < limit) {
    ++trans_.retry_count;
    branches_[branch].tried = false;  // Calls() picks it again
    return;
  }
  WantAbort(absl::StrCat("RetryCount is greater than RetryLimit, RetryLimit: ", limit));
}

void SagaMachine::WantAbort(std::string reason) {
  if (abort_wanted_) return;  // the first reason stands
  abort_wanted_ = true;
  abort_reason_ = std::move(reason);
}

bool SagaMachine::ActionSucceeded(int step) const {
  return branches_[steps_[step].action].status == Status::kSucceed;
}

// A compensation runs for every action that was called. An action still `prepared`
// may have been called (its answer was an error or lost in a crash) exactly when all
// its predecessors had succeeded; compensating one that never ran is a null
// compensation, which the branch's barrier absorbs.
bool SagaMachine::NeedsCompensation(int step) const {
  if (branches_[steps_[step].action].status != Status::kPrepared) return true;
  return std::all_of(preds_[step].begin(), preds_[step].end(),
                     [&](int p) { return ActionSucceeded(p); });
}

bool SagaMachine::CompensationSettled(int step) const {
  return !NeedsCompensation(step) ||
         branches_[steps_[step].compensate].status == Status::kSucceed;
}

std::optional<Transition> SagaMachine::Decide(absl::Time now) {
  const int step_count = static_cast<int>(steps_.size());
  if (trans_.status == Status::kSubmitted) {
    bool all_done = true, action_in_flight = false;
    for (int s = 0; s < step_count; ++s) {
      all_done = all_done && ActionSucceeded(s);
      action_in_flight = action_in_flight || branches_[steps_[s].action].in_flight;
    }
    if (all_done) return Transition{Status::kSucceed, ""};
    if (TimedOut(now)) WantAbort(TimeoutReason());
    // An action in flight may still succeed: it is compensated only once it answered
    // (or timed out), never while it may be running.
    if (abort_wanted_ && !action_in_flight) {
      return Transition{Status::kAborting, abort_reason_};
    }
  } else if (trans_.status == Status::kAborting) {
    for (int s = 0; s < step_count; ++s) {
      if (!CompensationSettled(s)) return std::nullopt;
    }
    return Transition{Status::kFailed, ""};
  }
  return std::nullopt;
}

BranchList SagaMachine::Calls(absl::Time, int budget) {
  BranchList calls;
  const int step_count = static_cast<int>(steps_.size());
  if (trans_.status == Status::kSubmitted && !abort_wanted_) {
    for (int s = 0; s < step_count && static_cast<int>(calls.size()) < budget; ++s) {
      if (Callable(steps_[s].action) &&
          std::all_of(preds_[s].begin(), preds_[s].end(),
                      [&](int p) { return ActionSucceeded(p); })) {
        Call(steps_[s].action, calls);
      }
    }
  } else if (trans_.status == Status::kAborting) {
    for (int s = step_count - 1; s >= 0 && static_cast<int>(calls.size()) < budget; --s) {
      if (NeedsCompensation(s) && Callable(steps_[s].compensate) &&
          std::all_of(succs_[s].begin(), succs_[s].end(),
                      [&](int n) { return CompensationSettled(n); })) {
        Call(steps_[s].compensate, calls);
      }
    }
  }
  return calls;
}

std::optional<Rest> SagaMachine::Idle(absl::Time) {
  if (CountRetry()) {
    // A pass that ends unfinished counts too (an action left uncalled, say): past
    // the limit it rolls back rather than rest.
    const int64_t limit = trans_.retry_limit;
    if (trans_.status == Status::kSubmitted && limit > 0 && trans_.retry_count > limit &&
        !abort_wanted_) {
      WantAbort(
          absl::StrCat("RetryCount is greater than RetryLimit, RetryLimit: ", limit));
      return std::nullopt;
    }
  }
  Rest rest;
  if (trans_.status == Status::kSubmitted) rest.not_after = Deadline();
  return rest;
}

}  // namespace dtx::engine
