// The mall's HTTP API: users, products, orders and payments. Creating an order is a
// saga across the order and product services:
//   order.Create / order.CreateRevert, then product.DecrStock / product.DecrStockRevert;
// paying one is the pay service's TCC (pay/payer.h).
#ifndef MALL_API_MALL_API_H_
#define MALL_API_MALL_API_H_

#include <memory>
#include <string>

#include "dtx/http/http_branch.h"
#include "dtx/submitter.h"
#include "order.grpc.pb.h"
#include "pay.grpc.pb.h"
#include "product.grpc.pb.h"
#include "user.grpc.pb.h"

namespace mall {

struct MallApiOptions {
  // gRPC addresses (host:port) of the four services.
  std::string user_target;
  std::string product_target;
  std::string order_target;
  std::string pay_target;
  // Where order sagas go: an embedded dtx::Coordinator or a remote submitter (dtxd).
  // Not owned.
  dtx::Submitter* submitter = nullptr;
  // Timeout of each branch call of an order saga. Default: 3 s.
  absl::Duration branch_timeout = absl::Seconds(3);
};

// Routes (all POST, JSON in and out; errors are {"message":..} with a 4xx/5xx):
//   /api/user/create {name, mobile[, balance]}   /api/user/detail {id}
//                                          (a user shows its wallet: balance, frozen,
//                                          points)
//   /api/product/create {name, desc, stock, amount}
//   /api/product/detail {id}                  /api/product/update {id, stock}
//   /api/order/create {uid, pid, num}  ->  200 {gid, order}; 409 {gid, message, order}
//                                          (rolled back: the order has status 9);
//                                          202 {gid, message} (still running)
//   /api/order/detail {id} or {gid}           /api/order/list {uid}
//   /api/pay/create {oid}  ->  200 {payment}; 409 {message, payment} (refused, rolled
//                              back); 202 {message} (in flight: ask again); 404
//   /api/pay/detail {oid}
// The user and the product are checked before anything is written.
class MallApi {
 public:
  explicit MallApi(MallApiOptions options);
  // Adds the routes to `server` (before it starts).
  void Register(dtx::HttpBranchServer& server);

 private:
  void CreateOrder(const dtx::HttpRequest& req, dtx::HttpResponse& res);
  void CreatePayment(const dtx::HttpRequest& req, dtx::HttpResponse& res);

  MallApiOptions options_;
  std::unique_ptr<UserService::Stub> users_;
  std::unique_ptr<ProductService::Stub> products_;
  std::unique_ptr<OrderService::Stub> orders_;
  std::unique_ptr<PayService::Stub> payments_;
};

}  // namespace mall

#endif  // MALL_API_MALL_API_H_
