#include "engine/machine.h"

#include "absl/strings/str_cat.h"
#include "engine/msg_machine.h"
#include "engine/saga_machine.h"
#include "engine/tcc_machine.h"

namespace dtx::engine {

absl::StatusOr<std::unique_ptr<Machine>> Machine::Create(Trans trans,
                                                         std::vector<Branch> branches) {
  switch (trans.mode) {
    case Mode::kSaga:
      return SagaMachine::Create(std::move(trans), std::move(branches));
    case Mode::kTcc:
      return TccMachine::Create(std::move(trans), std::move(branches));
    case Mode::kMsg:
      return MsgMachine::Create(std::move(trans), std::move(branches));
  }
  return absl::InternalError("unknown mode");
}

absl::Time Machine::Deadline() const {
  return trans_.timeout_to_fail > absl::ZeroDuration()
             ? trans_.create_time + trans_.timeout_to_fail
             : absl::InfiniteFuture();
}

std::string Machine::TimeoutReason() const {
  return absl::StrCat("Timeout after ", absl::ToInt64Seconds(trans_.timeout_to_fail),
                      " seconds");
}

void Machine::Answer(int branch, const absl::Status& answer) {
  --in_flight_;
  if (branch == kQueryPrepared) {
    const BranchResult result = ResultOf(answer);
    if (result == BranchResult::kSuccess) {
      progressed_ = true;
    } else if (result == BranchResult::kOngoing) {
      last_error_ =
          absl::StrCat(Describe(branch), " answered ONGOING: ", answer.message());
    } else if (result == BranchResult::kError) {
      Error(branch, answer.ToString());
    }
    OnBackCheck(result, answer.message());
    return;
  }
  Branch& b = branches_[branch];
  b.in_flight = false;
  switch (ResultOf(answer)) {
    case BranchResult::kSuccess:
      b.status = Status::kSucceed;
      MarkChanged(branch);
      progressed_ = true;
      break;
    case BranchResult::kFailure:
      OnFailure(branch, answer.message());
      break;
    case BranchResult::kOngoing:
      last_error_ =
          absl::StrCat(Describe(branch), " answered ONGOING: ", answer.message());
      OnNotDone(branch);
      break;
    case BranchResult::kError:
      Error(branch, answer.ToString());
      OnNotDone(branch);
      break;
  }
}

void Machine::Committed(const Transition& t) { trans_.status = t.to; }

void Machine::OnFailure(int branch, absl::string_view message) {
  saw_error_ = true;
  last_error_ = absl::StrCat(Describe(branch), " answered FAILURE: ", message);
}

void Machine::Call(int branch, BranchList& calls) {
  if (branch == kQueryPrepared) {
    back_check_tried_ = true;
  } else {
    branches_[branch].in_flight = branches_[branch].tried = true;
  }
  ++in_flight_;
  calls.push_back(branch);
}

void Machine::Error(int branch, absl::string_view what) {
  saw_error_ = true;
  last_error_ = absl::StrCat(Describe(branch), ": ", what);
}

std::string Machine::Describe(int branch) const {
  if (branch == kQueryPrepared) {
    return absl::StrCat("query_prepared '", trans_.query_prepared, "'");
  }
  const Branch& b = branches_[branch];
  return absl::StrCat(Name(b.op), " ", b.branch_id, " '", b.url, "'");
}

bool Machine::CountRetry() {
  if (counted_retry_) return false;
  counted_retry_ = true;
  ++trans_.retry_count;
  return true;
}

bool Machine::Callable(int branch) const {
  const Branch& b = branches_[branch];
  return b.status == Status::kPrepared && !b.in_flight && !b.tried;
}

}  // namespace dtx::engine
