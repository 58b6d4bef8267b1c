// dtx::BranchInfo: which transaction, branch and op a branch call belongs to, as the
// coordinator sends it (HTTP query parameters gid, trans_type, branch_id, op; gRPC
// metadata dtm-gid, ...).
#ifndef DTX_BRANCH_INFO_H_
#define DTX_BRANCH_INFO_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace dtx {

struct BranchInfo {
  std::string trans_type;
  std::string gid;
  std::string branch_id;
  std::string op;
};

// Builds a BranchInfo from a lookup of the four fields by name ("gid", "trans_type",
// "branch_id", "op"); the lookup answers nullopt for a missing field. Every field is
// required: kInvalidArgument names the first missing or invalid one.
absl::StatusOr<BranchInfo> BranchInfoFrom(
    const std::function<std::optional<std::string>(std::string_view)>& lookup);

}  // namespace dtx

#endif  // DTX_BRANCH_INFO_H_
