#include "order/order_service.h"

#include "dtx/grpc/grpc_branch.h"
#include "dtx/soci/barrier.h"

namespace mall {

grpc::Status OrderServiceImpl::Branch(
    grpc::ServerContext* context,
    const std::function<absl::Status(soci::session&, const std::string&)>& business) {
  absl::StatusOr<dtx::BranchInfo> info = dtx::BranchInfoFromContext(*context);
  if (!info.ok()) return dtx::ToGrpcStatus(info.status());
  return dtx::ToGrpcStatus(db_->Run([&](soci::session& sql) {
    return dtx::Barrier(*info).Call(
        sql, [&](soci::session& tx) { return business(tx, info->gid); });
  }));
}

grpc::Status OrderServiceImpl::Create(grpc::ServerContext* context,
                                      const OrderCreateRequest* request, OrderEmpty*) {
  return Branch(context, [&](soci::session& tx, const std::string& gid) {
    return Orders::Create(tx, gid, *request);
  });
}

grpc::Status OrderServiceImpl::CreateRevert(grpc::ServerContext* context,
                                            const OrderCreateRequest*, OrderEmpty*) {
  return Branch(context, [&](soci::session& tx, const std::string& gid) {
    return Orders::Invalidate(tx, gid);
  });
}

grpc::Status OrderServiceImpl::PayTry(grpc::ServerContext* context,
                                      const OrderPayRequest* request, OrderEmpty*) {
  return Branch(context, [&](soci::session& tx, const std::string&) {
    return Orders::StartPaying(tx, *request);
  });
}

grpc::Status OrderServiceImpl::PayConfirm(grpc::ServerContext* context,
                                          const OrderPayRequest* request, OrderEmpty*) {
  return Branch(context, [&](soci::session& tx, const std::string&) {
    return Orders::FinishPaying(tx, request->id());
  });
}

grpc::Status OrderServiceImpl::PayCancel(grpc::ServerContext* context,
                                         const OrderPayRequest* request, OrderEmpty*) {
  return Branch(context, [&](soci::session& tx, const std::string&) {
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
