#include "dtx/grpc/grpc_branch.h"

#include <string>

#include "dtx/result.h"

namespace dtx {

absl::StatusOr<BranchInfo> BranchInfoFromContext(const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  return BranchInfoFrom([&](std::string_view name) -> std::optional<std::string> {
    auto it = metadata.find(grpc::string_ref("dtm-" + std::string(name)));
    if (it == metadata.end()) return std::nullopt;
    return std::string(it->second.data(), it->second.size());
  });
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(GrpcCodeOf(status)),
                      std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  return StatusFromGrpc(status.error_code(), status.error_message());
}

}  // namespace dtx
