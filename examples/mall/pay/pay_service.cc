#include "pay/pay_service.h"

#include "dtx/grpc/grpc_branch.h"
#include "dtx/soci/barrier.h"

namespace mall {

grpc::Status PayServiceImpl::Create(grpc::ServerContext*, const PayRequest* request,
                                    Payment* reply) {
  absl::StatusOr<Payment> payment = payer_->Pay(request->oid());
  if (!payment.ok()) return dtx::ToGrpcStatus(payment.status());
  *reply = *payment;
  return grpc::Status::OK;
}

grpc::Status PayServiceImpl::Detail(grpc::ServerContext*, const PayRequest* request,
                                    Payment* reply) {
  absl::StatusOr<Payment> payment = payments_->FindByOrder(request->oid());
  if (!payment.ok()) return dtx::ToGrpcStatus(payment.status());
  *reply = *payment;
  return grpc::Status::OK;
}

grpc::Status PayServiceImpl::QueryPrepared(grpc::ServerContext* context, const PayEmpty*,
                                           PayEmpty*) {
  absl::StatusOr<dtx::BranchInfo> info = dtx::BranchInfoFromContext(*context);
  if (!info.ok()) return dtx::ToGrpcStatus(info.status());
  return dtx::ToGrpcStatus(db_->Run(
      [&](soci::session& sql) { return dtx::Barrier(*info).QueryPrepared(sql); }));
}

}  // namespace mall
