#include "mall_node.h"

#include <chrono>
#include <filesystem>

#include "dtx/http/http_branch.h"

namespace mall {
namespace {

// Serves `service` on its own server at 127.0.0.1, any free port.
std::unique_ptr<grpc::Server> Serve(grpc::Service* service, std::string* target) {
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  *target = "127.0.0.1:" + std::to_string(port);
  return port > 0 ? std::move(server) : nullptr;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MallNode>> MallNode::Start(
    const MallNodeOptions& options) {
  std::unique_ptr<MallNode> node(new MallNode());
  if (absl::Status s = node->Init(options); !s.ok()) return s;
  return node;
}

absl::Status MallNode::Init(const MallNodeOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  auto url = [&](const std::string& given, const char* file) {
    return given.empty() ? "sqlite://" + options.dir + "/" + file : given;
  };
  user_db_url_ = url(options.user_db, "user.db");
  product_db_url_ = url(options.product_db, "product.db");
  order_db_url_ = url(options.order_db, "order.db");
  pay_db_url_ = url(options.pay_db, "pay.db");
  auto user_db = Database::Open(user_db_url_, kUserSchema);
  auto product_db = Database::Open(product_db_url_, kProductSchema);
  auto order_db = Database::Open(order_db_url_, kOrderSchema);
  auto pay_db = Database::Open(pay_db_url_, kPaySchema);
  for (const auto* db : {&user_db, &product_db, &order_db, &pay_db}) {
    if (!db->ok()) return db->status();
  }
  user_db_ = *std::move(user_db);
  product_db_ = *std::move(product_db);
  order_db_ = *std::move(order_db);
  pay_db_ = *std::move(pay_db);
  users_ = std::make_unique<Users>(user_db_.get());
  products_ = std::make_unique<Products>(product_db_.get());
  orders_ = std::make_unique<Orders>(order_db_.get());
  payments_ = std::make_unique<Payments>(pay_db_.get());
  user_service_ = std::make_unique<UserServiceImpl>(user_db_.get(), users_.get());
  product_service_ =
      std::make_unique<ProductServiceImpl>(product_db_.get(), products_.get());
  order_service_ = std::make_unique<OrderServiceImpl>(order_db_.get(), orders_.get());
  user_server_ = Serve(user_service_.get(), &user_target_);
  product_server_ = Serve(product_service_.get(), &product_target_);
  order_server_ = Serve(order_service_.get(), &order_target_);
  if (!user_server_ || !product_server_ || !order_server_) {
    return absl::UnavailableError("cannot start the mall's gRPC services on 127.0.0.1");
  }

  dtx::Submitter* submitter = nullptr;
  dtx::Transport* transport = options.transport;
  if (transport == nullptr) {
    transport_ = std::make_unique<dtx::GrpcTransport>();
    transport = transport_.get();
  }
  if (options.dtxd_grpc.empty()) {
    auto store = dtx::SociStore::Open({.url = options.store_url.empty()
                                                  ? "sqlite://" + options.dir + "/dtx.db"
                                                  : options.store_url});
    if (!store.ok()) return store.status();
    store_ = *std::move(store);
    dtx::CoordinatorOptions co;
    co.store = store_.get();
    co.transports = {{"grpc", transport}};
    co.retry_interval = options.retry_interval;
    co.max_backoff = std::max(options.retry_interval * 4, absl::Seconds(1));
    auto coordinator = dtx::Coordinator::Start(co);
    if (!coordinator.ok()) return coordinator.status();
    coordinator_ = *std::move(coordinator);
    submitter = coordinator_.get();
  } else {
    dtx::GrpcSubmitterOptions so;
    so.target = options.dtxd_grpc;
    remote_ = std::make_unique<dtx::GrpcSubmitter>(so);
    submitter = remote_.get();
  }

  // The pay service, which runs its TCCs and messages through the same coordinator.
  payer_ =
      std::make_unique<Payer>(pay_db_.get(), payments_.get(),
                              PayerOptions{.user_target = user_target_,
                                           .order_target = order_target_,
                                           .submitter = submitter,
                                           .transport = transport,
                                           .request_timeout = options.branch_timeout});
  pay_service_ =
      std::make_unique<PayServiceImpl>(pay_db_.get(), payments_.get(), payer_.get());
  pay_server_ = Serve(pay_service_.get(), &pay_target_);
  if (!pay_server_) return absl::UnavailableError("cannot start the pay service");
  payer_->SetQueryPrepared(pay_target_ + "/mall.PayService/QueryPrepared");
  settler_ = std::make_unique<Every>(
      options.settle_every, [payer = payer_.get()] { (void)payer->SettleInFlight(); });

  MallApiOptions api;
  api.user_target = user_target_;
  api.product_target = product_target_;
  api.order_target = order_target_;
  api.pay_target = pay_target_;
  api.submitter = submitter;
  api.branch_timeout = options.branch_timeout;
  api_ = std::make_unique<MallApi>(api);
  http_ = std::make_unique<dtx::HttpBranchServer>(dtx::HttpBranchServerOptions{
      .threads = std::max(1, options.api_threads), .max_body_bytes = 64 * 1024});
  api_->Register(*http_);
  absl::StatusOr<int> port = http_->Start("127.0.0.1", options.api_port);
  if (!port.ok()) return port.status();
  api_port_ = *port;
  return absl::OkStatus();
}

MallNode::~MallNode() {
  if (http_) http_->Stop();
  settler_.reset();
  if (coordinator_) coordinator_->Shutdown();
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(1);
  for (auto* server : {&pay_server_, &order_server_, &product_server_, &user_server_}) {
    if (*server) (*server)->Shutdown(deadline);
  }
}

}  // namespace mall
