// The mall's HTTP API: users, products, and orders, where creating an order is a saga
// across the order and product services:
//   order.Create / order.CreateRevert, then product.DecrStock / product.DecrStockRevert.
#ifndef MALL_API_MALL_API_H_
#define MALL_API_MALL_API_H_

#include <memory>
#include <string>

#include "dtx/http/http_branch.h"
#include "dtx/submitter.h"
#include "order.grpc.pb.h"
#include "product.grpc.pb.h"
#include "user.grpc.pb.h"

namespace mall {

struct MallApiOptions {
  // gRPC addresses (host:port) of the three services.
  std::string user_target;
  std::string product_target;
  std::string order_target;
  // Where order sagas go: an embedded dtx::Coordinator or a remote submitter (dtxd).
  // Not owned.
  dtx::Submitter* submitter = nullptr;
  // Timeout of each branch call of an order saga. Default: 3 s.
  absl::Duration branch_timeout = absl::Seconds(3);
};

// Routes (all POST, JSON in and out; errors are {"message":..} with a 4xx/5xx):
//   /api/user/create {name, mobile}          /api/user/detail {id}
//   /api/product/create {name, desc, stock, amount}
//   /api/product/detail {id}                  /api/product/update {id, stock}
//   /api/order/create {uid, pid, num}  ->  200 {gid, order}; 409 {gid, message, order}
//                                          (rolled back: the order has status 9);
//                                          202 {gid, message} (still running)
//   /api/order/detail {id} or {gid}           /api/order/list {uid}
// The user and the product are checked before anything is written.
class MallApi {
 public:
  explicit MallApi(MallApiOptions options);
  // Adds the routes to `server` (before it starts).
  void Register(dtx::HttpBranchServer& server);

 private:
  void CreateOrder(const dtx::HttpRequest& req, dtx::HttpResponse& res);

  MallApiOptions options_;
  std::unique_ptr<UserService::Stub> users_;
  std::unique_ptr<ProductService::Stub> products_;
  std::unique_ptr<OrderService::Stub> orders_;
};

}  // namespace mall

#endif  // MALL_API_MALL_API_H_
