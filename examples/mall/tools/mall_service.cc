// One mall service per process. Built five times, with MALL_ROLE set to the role:
//   mall_user    --listen HOST:PORT --db PATH        the user service (gRPC)
//   mall_product --listen HOST:PORT --db PATH        the product service (gRPC)
//   mall_order   --listen HOST:PORT --db PATH        the order service (gRPC)
//   mall_pay     --listen HOST:PORT --db PATH --user T --order T
//                (--dtxd HOST:PORT | --store URL) [--advertise HOST:PORT]
//                [--settle-every S]   the pay service (gRPC)
//   mall_api     --listen HOST:PORT --user T --product T --order T --pay T
//                (--dtxd HOST:PORT | --store URL)   the HTTP API
// --store embeds a coordinator with that store in the process (a store of its own:
// two processes must not share one). The coordinator keeps mall_pay's address in every
// "paid" message, to ask it about one left prepared: run mall_pay on a fixed port, and
// give --advertise when the listen address is not one the coordinator can call (e.g.
// 0.0.0.0).
// Binds 127.0.0.1 unless told otherwise (port 0: any free port). Prints
// "<role>: listening on HOST:PORT" when ready; stops on SIGTERM or SIGINT.
#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <thread>

#include "api/mall_api.h"
#include "common/every.h"
#include "dtx/coordinator.h"
#include "dtx/grpc/grpc_submitter.h"
#include "dtx/grpc/grpc_transport.h"
#include "dtx/http/http_branch.h"
#include "dtx/soci/soci_store.h"
#include "order/order_service.h"
#include "pay/pay_service.h"
#include "product/product_service.h"
#include "user/user_service.h"

namespace {

constexpr const char* kRole = MALL_ROLE;

void WaitForStop(sigset_t* signals) {
  int signal = 0;
  sigwait(signals, &signal);
}

// Serves gRPC on `listen` with `service` registered; null, with a message, when it
// cannot. `port` receives the port.
std::unique_ptr<grpc::Server> Listen(grpc::Service* service, const std::string& listen,
                                     int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), port);
  builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || *port == 0) {
    std::fprintf(stderr, "%s: cannot listen on %s\n", kRole, listen.c_str());
    return nullptr;
  }
  return server;
}

void PrintListening(const std::string& listen, int port) {
  std::printf("%s: listening on %s:%d\n", kRole,
              listen.substr(0, listen.rfind(':')).c_str(), port);
  std::fflush(stdout);
}

// Serves one gRPC service until a stop signal.
int ServeGrpc(grpc::Service* service, const std::string& listen, sigset_t* signals) {
  int port = 0;
  std::unique_ptr<grpc::Server> server = Listen(service, listen, &port);
  if (server == nullptr) return 1;
  PrintListening(listen, port);
  WaitForStop(signals);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return 0;
}

// Where the transactions of mall_pay and mall_api go: dtxd, or a coordinator embedded
// in this process.
class Coordination {
 public:
  // False, with a message, when neither or both of `dtxd` and `store` are given or the
  // store does not open.
  bool Start(const std::string& dtxd, const std::string& store) {
    if (dtxd.empty() == store.empty()) {
      std::fprintf(stderr, "%s: give exactly one of --dtxd and --store\n", kRole);
      return false;
    }
    if (!dtxd.empty()) {
      dtx::GrpcSubmitterOptions options;
      options.target = dtxd;
      remote_ = std::make_unique<dtx::GrpcSubmitter>(options);
      return true;
    }
    auto opened = dtx::SociStore::Open({.url = store});
    if (!opened.ok()) {
      std::fprintf(stderr, "%s: %s\n", kRole, opened.status().ToString().c_str());
      return false;
    }
    store_ = *std::move(opened);
    dtx::CoordinatorOptions options;
    options.store = store_.get();
    options.transports = {{"grpc", &transport_}};
    auto started = dtx::Coordinator::Start(options);
    if (!started.ok()) {
      std::fprintf(stderr, "%s: %s\n", kRole, started.status().ToString().c_str());
      return false;
    }
    coordinator_ = *std::move(started);
    return true;
  }
  ~Coordination() {
    if (coordinator_) coordinator_->Shutdown();
  }

  dtx::Submitter* submitter() {
    return coordinator_ ? static_cast<dtx::Submitter*>(coordinator_.get())
                        : remote_.get();
  }
  dtx::Transport* transport() { return &transport_; }

 private:
  dtx::GrpcTransport transport_;
  std::unique_ptr<dtx::SociStore> store_;
  std::unique_ptr<dtx::Coordinator> coordinator_;
  std::unique_ptr<dtx::GrpcSubmitter> remote_;
};

// The pay service: its Payer needs its own address for the "paid" message's
// back-check (`advertise`, or the listen address with the port it got).
int ServePay(mall::Database* db, const std::string& listen, const std::string& advertise,
             double settle_every, const std::string& user, const std::string& order,
             Coordination* coordination, sigset_t* signals) {
  mall::Payments payments(db);
  mall::Payer payer(db, &payments,
                    mall::PayerOptions{.user_target = user,
                                       .order_target = order,
                                       .submitter = coordination->submitter(),
                                       .transport = coordination->transport()});
  mall::PayServiceImpl service(db, &payments, &payer);
  int port = 0;
  std::unique_ptr<grpc::Server> server = Listen(&service, listen, &port);
  if (server == nullptr) return 1;
  payer.SetQueryPrepared((advertise.empty() ? listen.substr(0, listen.rfind(':')) + ":" +
                                                  std::to_string(port)
                                            : advertise) +
                         "/mall.PayService/QueryPrepared");
  mall::Every settler(absl::Seconds(settle_every),
                      [&payer] { (void)payer.SettleInFlight(); });
  PrintListening(listen, port);
  WaitForStop(signals);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string role = kRole;
  CLI::App app{std::string(kRole) + ": a service of the dtx mall example"};
  std::string listen = "127.0.0.1:0", db, user, product, order, pay, dtxd, store,
              advertise;
  double settle_every = 5;
  app.add_option("--listen", listen, "Address to serve on")->capture_default_str();
  if (role != "mall_api") {
    app.add_option("--db", db, "The service's database: a storage URL or an SQLite path")
        ->required();
  }
  if (role == "mall_api" || role == "mall_pay") {
    app.add_option("--user", user, "User service address")->required();
    app.add_option("--order", order, "Order service address")->required();
    app.add_option("--dtxd", dtxd, "dtxd's gRPC address");
    app.add_option("--store", store, "Embedded coordinator's storage URL");
  }
  if (role == "mall_pay") {
    app.add_option("--advertise", advertise,
                   "Address the coordinator calls back (default: the listen address)");
    app.add_option("--settle-every", settle_every,
                   "Settle payments left in flight every, s")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
  }
  if (role == "mall_api") {
    app.add_option("--product", product, "Product service address")->required();
    app.add_option("--pay", pay, "Pay service address")->required();
  }
  CLI11_PARSE(app, argc, argv);

  signal(SIGPIPE, SIG_IGN);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (role != "mall_api") {
    const mall::Schema& schema = role == "mall_user"      ? mall::kUserSchema
                                 : role == "mall_product" ? mall::kProductSchema
                                 : role == "mall_order"   ? mall::kOrderSchema
                                                          : mall::kPaySchema;
    auto database = mall::Database::Open(db, schema);
    if (!database.ok()) {
      std::fprintf(stderr, "%s: %s\n", kRole, database.status().ToString().c_str());
      return 1;
    }
    if (role == "mall_user") {
      mall::Users users(database->get());
      mall::UserServiceImpl service(database->get(), &users);
      return ServeGrpc(&service, listen, &signals);
    }
    if (role == "mall_product") {
      mall::Products products(database->get());
      mall::ProductServiceImpl service(database->get(), &products);
      return ServeGrpc(&service, listen, &signals);
    }
    if (role == "mall_order") {
      mall::Orders orders(database->get());
      mall::OrderServiceImpl service(database->get(), &orders);
      return ServeGrpc(&service, listen, &signals);
    }
    Coordination coordination;
    if (!coordination.Start(dtxd, store)) return 2;
    return ServePay(database->get(), listen, advertise, settle_every, user, order,
                    &coordination, &signals);
  }

  // mall_api: the HTTP API.
  Coordination coordination;
  if (!coordination.Start(dtxd, store)) return 2;
  mall::MallApiOptions api_options;
  api_options.user_target = user;
  api_options.product_target = product;
  api_options.order_target = order;
  api_options.pay_target = pay;
  api_options.submitter = coordination.submitter();
  mall::MallApi api(api_options);
  // A connection held per client; 64 connections served at once.
  dtx::HttpBranchServer http(
      dtx::HttpBranchServerOptions{.threads = 64, .max_body_bytes = 64 * 1024});
  api.Register(http);
  const std::string host = listen.substr(0, listen.rfind(':'));
  absl::StatusOr<int> port =
      http.Start(host, std::atoi(listen.substr(listen.rfind(':') + 1).c_str()));
  if (!port.ok()) {
    std::fprintf(stderr, "%s: cannot listen on %s: %s\n", kRole, listen.c_str(),
                 port.status().ToString().c_str());
    return 1;
  }
  PrintListening(listen, *port);
  WaitForStop(&signals);
  http.Stop();
  return 0;
}
