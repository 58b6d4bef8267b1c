#include "product/product_service.h"

#include "common/barrier_branch.h"
#include "dtx/grpc/grpc_branch.h"
#include "dtx/result.h"

namespace mall {

grpc::Status ProductServiceImpl::Create(grpc::ServerContext*, const Product* request,
                                        Product* reply) {
  absl::StatusOr<Product> p = products_->Create(*request);
  if (!p.ok()) return dtx::ToGrpcStatus(p.status());
  *reply = *p;
  return grpc::Status::OK;
}

grpc::Status ProductServiceImpl::Detail(grpc::ServerContext*,
                                        const ProductIdRequest* request, Product* reply) {
  absl::StatusOr<Product> p = products_->Find(request->id());
  if (!p.ok()) return dtx::ToGrpcStatus(p.status());
  *reply = *p;
  return grpc::Status::OK;
}

grpc::Status ProductServiceImpl::SetStock(grpc::ServerContext*,
                                          const StockRequest* request, Product* reply) {
  absl::StatusOr<Product> p = products_->SetStock(request->id(), request->stock());
  if (!p.ok()) return dtx::ToGrpcStatus(p.status());
  *reply = *p;
  return grpc::Status::OK;
}

grpc::Status ProductServiceImpl::DecrStock(grpc::ServerContext* context,
                                           const DecrStockRequest* request, Empty*) {
  grpc::Status s =
      BarrierBranch(*db_, *context, [&](soci::session& tx, const dtx::BranchInfo&) {
        return Products::DecrStock(tx, request->id(), request->num());
      });
  if (s.ok() && fail_after_commit_) {
    // The stock change and its barrier row are committed; the answer says FAILURE, so
    // the saga rolls back and DecrStockRevert must give the stock back.
    return dtx::ToGrpcStatus(
        dtx::FailureError("fault injected after DecrStock committed"));
  }
  return s;
}

grpc::Status ProductServiceImpl::DecrStockRevert(grpc::ServerContext* context,
                                                 const DecrStockRequest* request,
                                                 Empty*) {
  return BarrierBranch(*db_, *context, [&](soci::session& tx, const dtx::BranchInfo&) {
    return Products::IncrStock(tx, request->id(), request->num());
  });
}

grpc::Status ProductServiceImpl::SetFault(grpc::ServerContext*,
                                          const FaultRequest* request, Empty*) {
  fail_after_commit_ = request->fail_decr_stock_after_commit();
  return grpc::Status::OK;
}

}  // namespace mall
