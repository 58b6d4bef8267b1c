// The TCC decisions (PROTOCOL.md, "TCC, 2-phase messages"): a `submitted` TCC runs the
// confirm of every registered branch, an `aborting` one the cancels, one at a time from
// the last registered branch to the first; a `prepared` one past its timeout_to_fail
// rolls back. A confirm or cancel that answers FAILURE or an error is retried.
#ifndef DTX_ENGINE_TCC_MACHINE_H_
#define DTX_ENGINE_TCC_MACHINE_H_

#include <memory>
#include <vector>

#include "engine/machine.h"

namespace dtx::engine {

class TccMachine : public Machine {
 public:
  // The rows are a [cancel, confirm] pair per registered branch, in registration
  // order; kInternal otherwise.
  static absl::StatusOr<std::unique_ptr<Machine>> Create(Trans trans,
                                                         std::vector<Branch> branches);

  std::optional<Transition> Decide(absl::Time now) override;
  BranchList Calls(absl::Time now, int budget) override;
  std::optional<Rest> Idle(absl::Time now) override;

 private:
  TccMachine(Trans trans, std::vector<Branch> branches)
      : Machine(std::move(trans), std::move(branches)) {}
  absl::Status Index();
  // The rows of the op the status runs (confirms when submitted, cancels when
  // aborting), in registration order (they run last first); empty in other statuses.
  const std::vector<int>& Phase2() const;

  std::vector<int> confirms_;  // index in branches_, in registration order
  std::vector<int> cancels_;
};

}  // namespace dtx::engine

#endif  // DTX_ENGINE_TCC_MACHINE_H_
