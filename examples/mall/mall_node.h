// The whole mall in one process: the user, product, order and pay services (each with
// its own SQLite database and its own gRPC server on 127.0.0.1) and the HTTP API, with
// an embedded coordinator or a remote one (dtxd, or DTM).
#ifndef MALL_MALL_NODE_H_
#define MALL_MALL_NODE_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "api/mall_api.h"
#include "common/database.h"
#include "common/every.h"
#include "dtx/coordinator.h"
#include "dtx/grpc/grpc_submitter.h"
#include "dtx/grpc/grpc_transport.h"
#include "dtx/soci/soci_store.h"
#include "order/order_service.h"
#include "pay/pay_service.h"
#include "product/product_service.h"
#include "user/user_service.h"

namespace mall {

struct MallNodeOptions {
  // Directory of the SQLite databases: user.db, product.db, order.db, pay.db (and
  // dtx.db when the coordinator is embedded). Created if absent.
  std::string dir;
  // The services' databases as storage URLs instead (sqlite://, postgresql://,
  // mysql://). Default: empty, the SQLite files in `dir`.
  std::string user_db, product_db, order_db, pay_db;
  // HTTP API port on 127.0.0.1. Default: 0, any free port.
  int api_port = 0;
  // Empty: an embedded coordinator. Otherwise dtxd's gRPC address.
  std::string dtxd_grpc;
  // The embedded coordinator's storage URL. Default: empty, sqlite://<dir>/dtx.db.
  std::string store_url;
  // Connections the HTTP API serves at once, a thread each (an order holds its
  // connection's thread while its saga runs). Default: 64.
  int api_threads = 64;
  // The embedded coordinator's branch transport. Default: null, a GrpcTransport of its
  // own. Tests pass a wrapper that injects faults. Not owned.
  dtx::Transport* transport = nullptr;
  // The embedded coordinator's retry interval, and the timeout of every branch call
  // (the payments' tries too). Default: dtx's.
  absl::Duration retry_interval = absl::Seconds(10);
  absl::Duration branch_timeout = absl::Seconds(3);
  // How often the pay service settles payments left in flight. Default: 5 s.
  absl::Duration settle_every = absl::Seconds(5);
};

class MallNode {
 public:
  static absl::StatusOr<std::unique_ptr<MallNode>> Start(const MallNodeOptions& options);
  ~MallNode();

  std::string api_base() const { return "http://127.0.0.1:" + std::to_string(api_port_); }
  int api_port() const { return api_port_; }
  const std::string& product_target() const { return product_target_; }
  const std::string& order_target() const { return order_target_; }
  const std::string& user_target() const { return user_target_; }
  const std::string& pay_target() const { return pay_target_; }
  const std::string& user_db() const { return user_db_url_; }
  const std::string& product_db() const { return product_db_url_; }
  const std::string& order_db() const { return order_db_url_; }
  const std::string& pay_db() const { return pay_db_url_; }
  // Null when the coordinator is remote.
  dtx::Coordinator* coordinator() { return coordinator_.get(); }

 private:
  MallNode() = default;
  absl::Status Init(const MallNodeOptions& options);

  std::unique_ptr<Database> user_db_, product_db_, order_db_, pay_db_;
  std::unique_ptr<Users> users_;
  std::unique_ptr<Products> products_;
  std::unique_ptr<Orders> orders_;
  std::unique_ptr<Payments> payments_;
  std::unique_ptr<Payer> payer_;
  std::unique_ptr<UserServiceImpl> user_service_;
  std::unique_ptr<ProductServiceImpl> product_service_;
  std::unique_ptr<OrderServiceImpl> order_service_;
  std::unique_ptr<PayServiceImpl> pay_service_;
  std::unique_ptr<Every> settler_;
  std::unique_ptr<grpc::Server> user_server_, product_server_, order_server_, pay_server_;
  std::string user_target_, product_target_, order_target_, pay_target_;
  std::string user_db_url_, product_db_url_, order_db_url_, pay_db_url_;

  std::unique_ptr<dtx::SociStore> store_;
  std::unique_ptr<dtx::GrpcTransport> transport_;
  std::unique_ptr<dtx::Coordinator> coordinator_;
  std::unique_ptr<dtx::GrpcSubmitter> remote_;

  std::unique_ptr<MallApi> api_;
  std::unique_ptr<dtx::HttpBranchServer> http_;
  int api_port_ = 0;
};

}  // namespace mall

#endif  // MALL_MALL_NODE_H_
