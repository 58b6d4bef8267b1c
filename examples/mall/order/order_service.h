// The order service's gRPC handlers. Create and CreateRevert are saga branches,
// PayTry, PayConfirm and PayCancel a payment's TCC branch: each runs behind a
// dtx::Barrier, in one local transaction; CreateRevert finds the order by the saga's
// gid.
#ifndef MALL_ORDER_ORDER_SERVICE_H_
#define MALL_ORDER_ORDER_SERVICE_H_

#include "order.grpc.pb.h"
#include "order/orders.h"

namespace mall {

class OrderServiceImpl final : public OrderService::Service {
 public:
  OrderServiceImpl(Database* db, Orders* orders) : db_(db), orders_(orders) {}

  grpc::Status Create(grpc::ServerContext* context, const OrderCreateRequest* request,
                      OrderEmpty* reply) override;
  grpc::Status CreateRevert(grpc::ServerContext* context,
                            const OrderCreateRequest* request,
                            OrderEmpty* reply) override;
  grpc::Status PayTry(grpc::ServerContext* context, const OrderPayRequest* request,
                      OrderEmpty* reply) override;
  grpc::Status PayConfirm(grpc::ServerContext* context, const OrderPayRequest* request,
                          OrderEmpty* reply) override;
  grpc::Status PayCancel(grpc::ServerContext* context, const OrderPayRequest* request,
                         OrderEmpty* reply) override;
  grpc::Status Detail(grpc::ServerContext*, const OrderQuery* request,
                      Order* reply) override;
  grpc::Status List(grpc::ServerContext*, const OrderListRequest* request,
                    OrderList* reply) override;

 private:
  Database* db_;
  Orders* orders_;
};

}  // namespace mall

#endif  // MALL_ORDER_ORDER_SERVICE_H_
