// The 2-phase message's decisions (PROTOCOL.md, "TCC, 2-phase messages"): a
// `submitted` message calls its actions in order (or together when concurrent), not
// before its delay, each retried until it succeeds (a message cannot be refused); a
// `prepared` one past its timeout_to_fail is settled by asking its query_prepared URL:
// SUCCESS submits it, FAILURE fails it, ONGOING or an error asks again later.
#ifndef DTX_ENGINE_MSG_MACHINE_H_
#define DTX_ENGINE_MSG_MACHINE_H_

#include <memory>
#include <string>
#include <vector>

#include "dtx/transaction.h"
#include "engine/machine.h"

namespace dtx::engine {

class MsgMachine : public Machine {
 public:
  // The rows are one `action` per step, ids "01", "02", .. in order; kInternal
  // otherwise, or for a custom_data that does not parse.
  static absl::StatusOr<std::unique_ptr<Machine>> Create(Trans trans,
                                                         std::vector<Branch> branches);

  std::optional<Transition> Decide(absl::Time now) override;
  BranchList Calls(absl::Time now, int budget) override;
  std::optional<Rest> Idle(absl::Time now) override;

 private:
  enum class BackCheck { kNotAsked, kSucceeded, kFailed };

  MsgMachine(Trans trans, std::vector<Branch> branches)
      : Machine(std::move(trans), std::move(branches)) {}
  absl::Status Index();
  void OnBackCheck(BranchResult result, absl::string_view message) override;

  MsgOptions options_;
  BackCheck back_check_ = BackCheck::kNotAsked;
  std::string back_check_refusal_;
};

}  // namespace dtx::engine

#endif  // DTX_ENGINE_MSG_MACHINE_H_
