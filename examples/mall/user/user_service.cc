#include "user/user_service.h"

#include "dtx/grpc/grpc_branch.h"

namespace mall {

grpc::Status UserServiceImpl::Create(grpc::ServerContext*,
                                     const UserCreateRequest* request, User* reply) {
  absl::StatusOr<User> user = users_->Create(request->name(), request->mobile());
  if (!user.ok()) return dtx::ToGrpcStatus(user.status());
  *reply = *user;
  return grpc::Status::OK;
}

grpc::Status UserServiceImpl::Detail(grpc::ServerContext*, const UserIdRequest* request,
                                     User* reply) {
  absl::StatusOr<User> user = users_->Find(request->id());
  if (!user.ok()) return dtx::ToGrpcStatus(user.status());
  *reply = *user;
  return grpc::Status::OK;
}

}  // namespace mall
