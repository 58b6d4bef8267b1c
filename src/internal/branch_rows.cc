#include "internal/branch_rows.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace dtx::internal {
namespace {

// A branch whose (branch_id, op) an earlier one has, or null.
const TransBranch* RepeatedBranch(const std::vector<TransBranch>& branches) {
  constexpr size_t kFew = 32;
  if (branches.size() <= kFew) {
    for (size_t i = 1; i < branches.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (branches[i].branch_id == branches[j].branch_id &&
            branches[i].op == branches[j].op) {
          return &branches[i];
        }
      }
    }
    return nullptr;
  }
  absl::flat_hash_set<std::pair<std::string_view, std::string_view>> seen;
  for (const TransBranch& b : branches) {
    if (!seen.emplace(b.branch_id, b.op).second) return &b;
  }
  return nullptr;
}

// A branch id (`min_size` 1) or an op or status (2) the branch log can hold.
bool Storable(const std::string& name, size_t min_size) {
  return name.size() >= min_size && name.find_first_of(" ,;|") == std::string::npos;
}

}  // namespace

absl::Status CheckBranchResults(std::string_view gid,
                                const std::vector<BranchUpdate>& results) {
  for (const BranchUpdate& r : results) {
    if (!Storable(r.branch_id, 1) || !Storable(r.op, 2) || !Storable(r.status, 2)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "transaction ", std::string(gid), ": branch ", r.branch_id.substr(0, 128), "/",
          r.op.substr(0, 45), " has a branch id, op or status that cannot be stored"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckBranchRows(std::string_view gid,
                             const std::vector<TransBranch>& branches) {
  auto refuse = [&](const TransBranch& b, const char* why) {
    return absl::InvalidArgumentError(
        absl::StrCat("transaction ", std::string(gid), ": branch ",
                     b.branch_id.substr(0, 128), "/", b.op.substr(0, 45), " ", why));
  };
  for (const TransBranch& b : branches) {
    if (b.url.size() > kMaxBranchUrl) return refuse(b, "has a URL over 1024 bytes");
    if (b.branch_id.size() > kMaxBranchId || b.op.size() > kMaxBranchOp ||
        b.status.size() > kMaxBranchOp) {
      return refuse(b, "has a branch id, op or status too long");
    }
    if (!Storable(b.branch_id, 1) || !Storable(b.op, 2) || !Storable(b.status, 2)) {
      return refuse(b, "has a branch id, op or status that cannot be stored");
    }
  }
  if (const TransBranch* twice = RepeatedBranch(branches)) {
    return refuse(*twice, "given twice");
  }
  return absl::OkStatus();
}

}  // namespace dtx::internal
