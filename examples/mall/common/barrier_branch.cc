#include "common/barrier_branch.h"

#include "dtx/grpc/grpc_branch.h"
#include "dtx/soci/barrier.h"

namespace mall {

grpc::Status BarrierBranch(
    Database& db, const grpc::ServerContext& context,
    const std::function<absl::Status(soci::session&, const dtx::BranchInfo&)>& business) {
  absl::StatusOr<dtx::BranchInfo> info = dtx::BranchInfoFromContext(context);
  if (!info.ok()) return dtx::ToGrpcStatus(info.status());
  return dtx::ToGrpcStatus(db.Run([&](soci::session& sql) {
    return dtx::Barrier(*info).Call(
        sql, [&](soci::session& tx) { return business(tx, *info); });
  }));
}

}  // namespace mall
