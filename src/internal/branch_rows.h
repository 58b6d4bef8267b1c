// What every Store checks of the branches and branch results it is given to keep.
#ifndef DTX_INTERNAL_BRANCH_ROWS_H_
#define DTX_INTERNAL_BRANCH_ROWS_H_

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "dtx/store.h"
#include "dtx/transaction.h"

namespace dtx::internal {

// The sizes of DTM's trans_branch_op columns, which every store keeps to.
inline constexpr size_t kMaxBranchUrl = 1024;
inline constexpr size_t kMaxBranchId = 128;
inline constexpr size_t kMaxBranchOp = 45;

// kInvalidArgument, naming the branch, when one of `branches` of transaction `gid`
// repeats the (branch_id, op) of an earlier one, has a URL, branch id, op or status
// longer than the columns above, or a name CheckBranchResults refuses. Without
// allocating for the few branches sagas have.
absl::Status CheckBranchRows(std::string_view gid,
                             const std::vector<TransBranch>& branches);

// kInvalidArgument when a branch id, op or status of `results` (or of a branch) is
// empty or holds ' ', ',', ';' or '|', or an op or status is one character: SociStore's
// branch log separates its fields with those and writes dtx's own ops and statuses as
// one letter (src/soci/trans_row.h). No valid branch id or dtx op or status is refused.
absl::Status CheckBranchResults(std::string_view gid,
                                const std::vector<BranchUpdate>& results);

}  // namespace dtx::internal

#endif  // DTX_INTERNAL_BRANCH_ROWS_H_
