// A gRPC branch handler's body: the business behind the barrier of the call.
#ifndef MALL_COMMON_BARRIER_BRANCH_H_
#define MALL_COMMON_BARRIER_BRANCH_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <functional>

#include "common/database.h"
#include "dtx/branch_info.h"

namespace mall {

// Runs `business` in one local transaction on `db`, behind the dtx::Barrier of the
// branch call `context` carries (its dtm-* metadata), and answers as a branch does:
// INVALID_ARGUMENT without that metadata, else the barrier's result.
grpc::Status BarrierBranch(
    Database& db, const grpc::ServerContext& context,
    const std::function<absl::Status(soci::session&, const dtx::BranchInfo&)>& business);

}  // namespace mall

#endif  // MALL_COMMON_BARRIER_BRANCH_H_
