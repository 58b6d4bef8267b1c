// Serving saga branches over gRPC: the branch side of PROTOCOL.md.
//
//   grpc::Status OrderService::Create(grpc::ServerContext* ctx, const CreateRequest* req,
//                                     CreateReply* reply) {
//     absl::StatusOr<dtx::BranchInfo> info = dtx::BranchInfoFromContext(*ctx);
//     if (!info.ok()) return dtx::ToGrpcStatus(info.status());
//     soci::session sql(pool_);
//     return dtx::ToGrpcStatus(dtx::Barrier(*info).Call(sql, [&](soci::session& tx) {
//       return orders_.Create(tx, *req);
//     }));
//   }
#ifndef DTX_GRPC_GRPC_BRANCH_H_
#define DTX_GRPC_GRPC_BRANCH_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dtx/branch_info.h"

namespace dtx {

// The dtm-gid, dtm-trans_type, dtm-branch_id and dtm-op metadata of a branch call;
// kInvalidArgument names the first one missing.
absl::StatusOr<BranchInfo> BranchInfoFromContext(const grpc::ServerContext& context);

// A handler's result as the gRPC status a branch answers with (same code numbers:
// FAILURE is ABORTED, ONGOING is FAILED_PRECONDITION).
grpc::Status ToGrpcStatus(const absl::Status& status);

// A gRPC status as the result vocabulary.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace dtx

#endif  // DTX_GRPC_GRPC_BRANCH_H_
