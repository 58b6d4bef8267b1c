// The user service's gRPC handlers over Users.
#ifndef MALL_USER_USER_SERVICE_H_
#define MALL_USER_USER_SERVICE_H_

#include "user.grpc.pb.h"
#include "user/users.h"

namespace mall {

class UserServiceImpl final : public UserService::Service {
 public:
  explicit UserServiceImpl(Users* users) : users_(users) {}
  grpc::Status Create(grpc::ServerContext*, const UserCreateRequest* request,
                      User* reply) override;
  grpc::Status Detail(grpc::ServerContext*, const UserIdRequest* request,
                      User* reply) override;

 private:
  Users* users_;
};

}  // namespace mall

#endif  // MALL_USER_USER_SERVICE_H_
