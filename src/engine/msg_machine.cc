#include "engine/msg_machine.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dtx::engine {

absl::StatusOr<std::unique_ptr<Machine>> MsgMachine::Create(
    Trans trans, std::vector<Branch> branches) {
  std::unique_ptr<MsgMachine> m(new MsgMachine(std::move(trans), std::move(branches)));
  if (absl::Status s = m->Index(); !s.ok()) return s;
  return m;
}

absl::Status MsgMachine::Index() {
  for (size_t i = 0; i < branches_.size(); ++i) {
    if (branches_[i].op != Op::kAction ||
        branches_[i].branch_id != absl::StrFormat("%02d", i + 1)) {
      return absl::InternalError(absl::StrCat("msg ", trans_.gid, ": branch row ", i,
                                              " is not action ",
                                              absl::StrFormat("%02d", i + 1)));
    }
  }
  absl::StatusOr<MsgOptions> options = ParseMsgOptions(trans_.custom_data);
  if (!options.ok()) return absl::InternalError(std::string(options.status().message()));
  options_ = *options;
  return absl::OkStatus();
}

void MsgMachine::OnBackCheck(BranchResult result, absl::string_view message) {
  if (result == BranchResult::kSuccess) back_check_ = BackCheck::kSucceeded;
  if (result == BranchResult::kFailure) {
    back_check_ = BackCheck::kFailed;
    back_check_refusal_ =
        absl::StrCat(Describe(kQueryPrepared), " answered FAILURE: ", message);
  }
}

std::optional<Transition> MsgMachine::Decide(absl::Time) {
  if (trans_.status == Status::kPrepared) {
    if (back_check_ == BackCheck::kSucceeded) return Transition{Status::kSubmitted, ""};
    if (back_check_ == BackCheck::kFailed) {
      return Transition{Status::kFailed, back_check_refusal_};
    }
    return std::nullopt;
  }
  if (trans_.status != Status::kSubmitted) return std::nullopt;
  for (const Branch& b : branches_) {
    if (b.status != Status::kSucceed) return std::nullopt;
  }
  return Transition{Status::kSucceed, ""};
}

BranchList MsgMachine::Calls(absl::Time now, int budget) {
  BranchList calls;
  if (budget <= 0) return calls;
  if (trans_.status == Status::kPrepared) {
    // The back-check, once a pass, once the client had its time to submit.
    if (TimedOut(now) && !trans_.query_prepared.empty() && !back_check_tried_) {
      Call(kQueryPrepared, calls);
    }
    return calls;
  }
  if (trans_.status != Status::kSubmitted || now < trans_.create_time + options_.delay) {
    return calls;
  }
  for (int i = 0; i < static_cast<int>(branches_.size()); ++i) {
    if (static_cast<int>(calls.size()) >= budget) break;
    if (branches_[i].status == Status::kSucceed) continue;
    if (Callable(i)) Call(i, calls);
    if (!options_.concurrent) break;  // in order: one at a time
  }
  return calls;
}

std::optional<Rest> MsgMachine::Idle(absl::Time now) {
  Rest rest;
  if (trans_.status == Status::kPrepared && !TimedOut(now)) {
    // The client has until its timeout to submit or abort.
    rest.retry = false;
    rest.not_after = Deadline();
    return rest;
  }
  if (trans_.status == Status::kPrepared && trans_.query_prepared.empty()) {
    // Cannot be settled by asking: an operator must (forceStop).
    Error(kQueryPrepared, "a prepared message without a query_prepared URL timed out");
  }
  if (trans_.status == Status::kSubmitted && now < trans_.create_time + options_.delay) {
    rest.retry = false;
    rest.not_after = trans_.create_time + options_.delay;
    return rest;
  }
  CountRetry();
  return rest;
}

}  // namespace dtx::engine
