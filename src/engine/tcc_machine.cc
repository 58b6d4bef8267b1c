#include "engine/tcc_machine.h"

#include "absl/strings/str_cat.h"

namespace dtx::engine {

absl::StatusOr<std::unique_ptr<Machine>> TccMachine::Create(
    Trans trans, std::vector<Branch> branches) {
  std::unique_ptr<TccMachine> m(new TccMachine(std::move(trans), std::move(branches)));
  if (absl::Status s = m->Index(); !s.ok()) return s;
  return m;
}

absl::Status TccMachine::Index() {
  for (size_t i = 0; i < branches_.size(); i += 2) {
    if (i + 1 == branches_.size() || branches_[i].op != Op::kCancel ||
        branches_[i + 1].op != Op::kConfirm ||
        branches_[i].branch_id != branches_[i + 1].branch_id) {
      return absl::InternalError(
          absl::StrCat("tcc ", trans_.gid, ": branch row ", i,
                       " does not start a [cancel, confirm] pair of one branch id"));
    }
    cancels_.push_back(static_cast<int>(i));
    confirms_.push_back(static_cast<int>(i + 1));
  }
  return absl::OkStatus();
}

const std::vector<int>& TccMachine::Phase2() const {
  static const std::vector<int> kNone;
  return trans_.status == Status::kSubmitted  ? confirms_
         : trans_.status == Status::kAborting ? cancels_
                                              : kNone;
}

std::optional<Transition> TccMachine::Decide(absl::Time now) {
  if (trans_.status == Status::kPrepared) {
    if (TimedOut(now)) return Transition{Status::kAborting, TimeoutReason()};
    return std::nullopt;
  }
  if (trans_.status != Status::kSubmitted && trans_.status != Status::kAborting) {
    return std::nullopt;
  }
  for (int row : Phase2()) {  // the order does not matter here
    if (branches_[row].status != Status::kSucceed) return std::nullopt;
  }
  return Transition{
      trans_.status == Status::kSubmitted ? Status::kSucceed : Status::kFailed, ""};
}

BranchList TccMachine::Calls(absl::Time, int budget) {
  BranchList calls;
  if (budget <= 0) return calls;
  // One at a time: the first row (last registered) not yet done is called, unless it
  // is in flight or was tried in this pass already (its retry waits for a later pass).
  const std::vector<int>& rows = Phase2();
  for (auto row = rows.rbegin(); row != rows.rend(); ++row) {
    if (branches_[*row].status == Status::kSucceed) continue;
    if (Callable(*row)) Call(*row, calls);
    break;
  }
  return calls;
}

std::optional<Rest> TccMachine::Idle(absl::Time) {
  Rest rest;
  if (trans_.status == Status::kPrepared) {
    // Nothing failed: the client is still registering branches. Look again when the
    // transaction times out.
    rest.retry = false;
    rest.not_after = Deadline();
    return rest;
  }
  CountRetry();
  return rest;
}

}  // namespace dtx::engine
