// The user service's gRPC handlers over Users. The wallet's TCC branch (WalletTry,
// WalletConfirm, WalletCancel) and CreditPoints, the action of the "paid" message,
// each run behind a dtx::Barrier in one local transaction, so duplicates, a cancel
// without its try and a try after its cancel change nothing.
#ifndef MALL_USER_USER_SERVICE_H_
#define MALL_USER_USER_SERVICE_H_

#include <condition_variable>
#include <mutex>
#include <string>

#include "user.grpc.pb.h"
#include "user/users.h"

namespace mall {

class UserServiceImpl final : public UserService::Service {
 public:
  UserServiceImpl(Database* db, Users* users) : db_(db), users_(users) {}
  grpc::Status Create(grpc::ServerContext*, const UserCreateRequest* request,
                      User* reply) override;
  grpc::Status Detail(grpc::ServerContext*, const UserIdRequest* request,
                      User* reply) override;
  grpc::Status WalletTry(grpc::ServerContext* context, const WalletRequest* request,
                         UserEmpty* reply) override;
  grpc::Status WalletConfirm(grpc::ServerContext* context, const WalletRequest* request,
                             UserEmpty* reply) override;
  grpc::Status WalletCancel(grpc::ServerContext* context, const WalletRequest* request,
                            UserEmpty* reply) override;
  grpc::Status CreditPoints(grpc::ServerContext* context, const PointsRequest* request,
                            UserEmpty* reply) override;
  grpc::Status SetFault(grpc::ServerContext*, const UserFaultRequest* request,
                        UserFaultState* reply) override;

 private:
  // The fault switch: holds this try until the cancel of `gid` has run.
  void HoldUntilCancelled(const std::string& gid);

  Database* db_;
  Users* users_;

  std::mutex mu_;
  std::condition_variable cancelled_cv_;
  // Guarded by mu_: the switch, the gid of the try held now (empty: none), whether
  // its cancel ran, and how many held tries finished.
  bool hold_next_try_ = false;
  std::string held_gid_;
  bool held_cancelled_ = false;
  int64_t held_tries_finished_ = 0;
};

}  // namespace mall

#endif  // MALL_USER_USER_SERVICE_H_
