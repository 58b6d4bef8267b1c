#include "dtx/branch_info.h"

#include "absl/strings/str_cat.h"
#include "dtx/gid.h"

namespace dtx {

absl::StatusOr<BranchInfo> BranchInfoFrom(
    const std::function<std::optional<std::string>(std::string_view)>& lookup) {
  BranchInfo info;
  for (auto [name, field] : {std::pair{"gid", &info.gid},
                             {"trans_type", &info.trans_type},
                             {"branch_id", &info.branch_id},
                             {"op", &info.op}}) {
    std::optional<std::string> value = lookup(name);
    if (!value || value->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("missing branch field '", name, "'"));
    }
    if (value->size() > 128) {
      return absl::InvalidArgumentError(
          absl::StrCat("branch field '", name, "' too long"));
    }
    *field = *std::move(value);
  }
  if (!IsValidGid(info.gid)) return absl::InvalidArgumentError("invalid gid");
  return info;
}

}  // namespace dtx
