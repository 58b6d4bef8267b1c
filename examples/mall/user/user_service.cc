#include "user/user_service.h"

#include <chrono>

#include "common/barrier_branch.h"
#include "dtx/grpc/grpc_branch.h"

namespace mall {

grpc::Status UserServiceImpl::Create(grpc::ServerContext*,
                                     const UserCreateRequest* request, User* reply) {
  absl::StatusOr<User> user =
      users_->Create(request->name(), request->mobile(), request->balance());
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

grpc::Status UserServiceImpl::WalletTry(grpc::ServerContext* context,
                                        const WalletRequest* request, UserEmpty*) {
  bool hold = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::swap(hold, hold_next_try_);
  }
  if (hold) {
    // As if the network delayed this request past its timeout: the payment rolls
    // back, and the cancel of this very try runs before the try itself.
    absl::StatusOr<dtx::BranchInfo> info = dtx::BranchInfoFromContext(*context);
    if (info.ok()) HoldUntilCancelled(info->gid);
  }
  grpc::Status s =
      BarrierBranch(*db_, *context, [&](soci::session& tx, const dtx::BranchInfo&) {
        return Users::Freeze(tx, request->uid(), request->amount());
      });
  if (hold) {
    std::lock_guard<std::mutex> lock(mu_);
    held_gid_.clear();
    ++held_tries_finished_;
  }
  return s;
}

grpc::Status UserServiceImpl::WalletConfirm(grpc::ServerContext* context,
                                            const WalletRequest* request, UserEmpty*) {
  return BarrierBranch(*db_, *context, [&](soci::session& tx, const dtx::BranchInfo&) {
    return Users::Take(tx, request->uid(), request->amount());
  });
}

grpc::Status UserServiceImpl::WalletCancel(grpc::ServerContext* context,
                                           const WalletRequest* request, UserEmpty*) {
  grpc::Status s =
      BarrierBranch(*db_, *context, [&](soci::session& tx, const dtx::BranchInfo&) {
        return Users::Release(tx, request->uid(), request->amount());
      });
  if (s.ok()) {
    absl::StatusOr<dtx::BranchInfo> info = dtx::BranchInfoFromContext(*context);
    std::lock_guard<std::mutex> lock(mu_);
    if (info.ok() && !held_gid_.empty() && held_gid_ == info->gid) {
      held_cancelled_ = true;
      cancelled_cv_.notify_all();
    }
  }
  return s;
}

grpc::Status UserServiceImpl::CreditPoints(grpc::ServerContext* context,
                                           const PointsRequest* request, UserEmpty*) {
  return BarrierBranch(*db_, *context, [&](soci::session& tx, const dtx::BranchInfo&) {
    return Users::CreditPoints(tx, request->uid(), request->points());
  });
}

grpc::Status UserServiceImpl::SetFault(grpc::ServerContext*,
                                       const UserFaultRequest* request,
                                       UserFaultState* reply) {
  std::lock_guard<std::mutex> lock(mu_);
  hold_next_try_ = request->hold_next_try_until_cancel();
  reply->set_held_tries_finished(held_tries_finished_);
  return grpc::Status::OK;
}

void UserServiceImpl::HoldUntilCancelled(const std::string& gid) {
  std::unique_lock<std::mutex> lock(mu_);
  held_gid_ = gid;
  held_cancelled_ = false;
  cancelled_cv_.wait_for(lock, std::chrono::seconds(30), [&] { return held_cancelled_; });
}

}  // namespace mall
