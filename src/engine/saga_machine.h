// The saga's decisions (PROTOCOL.md, "Saga semantics"): actions in order, or as their
// predecessors allow when concurrent; on an action's FAILURE, a timeout_to_fail or a
// retry_limit, the compensation of every action that may have run, in reverse order.
#ifndef DTX_ENGINE_SAGA_MACHINE_H_
#define DTX_ENGINE_SAGA_MACHINE_H_

#include <memory>
#include <string>
#include <vector>

#include "engine/machine.h"

namespace dtx::engine {

class SagaMachine : public Machine {
 public:
  // The rows are a pair per step: [compensate, action] with the step's id ("01", ..);
  // kInternal otherwise, or for a custom_data whose orders do not parse.
  static absl::StatusOr<std::unique_ptr<Machine>> Create(Trans trans,
                                                         std::vector<Branch> branches);

  std::optional<Transition> Decide(absl::Time now) override;
  BranchList Calls(absl::Time now, int budget) override;
  std::optional<Rest> Idle(absl::Time now) override;

 private:
  struct Step {
    int action = -1;      // index in branches_
    int compensate = -1;  // index in branches_
  };

  SagaMachine(Trans trans, std::vector<Branch> branches)
      : Machine(std::move(trans), std::move(branches)) {}
  absl::Status Index();
  void OnFailure(int branch, absl::string_view message) override;
  void OnNotDone(int branch) override;

  bool ActionSucceeded(int step) const;
  bool NeedsCompensation(int step) const;
  bool CompensationSettled(int step) const;
  void WantAbort(std::string reason);

  std::vector<Step> steps_;
  std::vector<std::vector<int>> preds_;
  std::vector<std::vector<int>> succs_;
  bool abort_wanted_ = false;
  std::string abort_reason_;
};

}  // namespace dtx::engine

#endif  // DTX_ENGINE_SAGA_MACHINE_H_
