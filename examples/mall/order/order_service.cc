#include "order/order_service.h"

#include "common/barrier_branch.h"
#include "dtx/grpc/grpc_branch.h"

namespace mall {

grpc::Status OrderServiceImpl::Create(grpc::ServerContext* context,
                                      const OrderCreateRequest* request, OrderEmpty*) {
  return BarrierBranch(*db_, *context,
                       [&](soci::session& tx, const dtx::BranchInfo& info) {
                         return Orders::Create(tx, info.gid, *request);
                       });
}

grpc::Status OrderServiceImpl::CreateRevert(grpc::ServerContext* context,
                                            const OrderCreateRequest*, OrderEmpty*) {
  return BarrierBranch(*db_, *context,
                       [&](soci::session& tx, const dtx::BranchInfo& info) {
                         return Orders::Invalidate(tx, info.gid);
                       });
}

grpc::Status OrderServiceImpl::PayTry(grpc::ServerContext* context,
                                      const OrderPayRequest* request, OrderEmpty*) {
  return BarrierBranch(*db_, *context, [&](soci::session& tx, const dtx::BranchInfo&) {
    return Orders::StartPaying(tx, *request);
  });
}

grpc::Status OrderServiceImpl::PayConfirm(grpc::ServerContext* context,
                                          const OrderPayRequest* request, OrderEmpty*) {
  return BarrierBranch(*db_, *context, [&](soci::session& tx, const dtx::BranchInfo&) {
    return Orders::FinishPaying(tx, request->id());
  });
}

grpc::Status OrderServiceImpl::PayCancel(grpc::ServerContext* context,
                                         const OrderPayRequest* request, OrderEmpty*) {
  return BarrierBranch(*db_, *context, [&](soci::session& tx, const dtx::BranchInfo&) {
    return Orders::StopPaying(tx, request->id());
  });
}

grpc::Status OrderServiceImpl::Detail(grpc::ServerContext*, const OrderQuery* request,
                                      Order* reply) {
  absl::StatusOr<Order> order = request->gid().empty()
                                    ? orders_->FindById(request->id())
                                    : orders_->FindByGid(request->gid());
  if (!order.ok()) return dtx::ToGrpcStatus(order.status());
  *reply = *order;
  return grpc::Status::OK;
}

grpc::Status OrderServiceImpl::List(grpc::ServerContext*, const OrderListRequest* request,
                                    OrderList* reply) {
  absl::StatusOr<std::vector<Order>> orders = orders_->ListByUser(request->uid());
  if (!orders.ok()) return dtx::ToGrpcStatus(orders.status());
  for (Order& o : *orders) *reply->add_orders() = std::move(o);
  return grpc::Status::OK;
}

}  // namespace mall
