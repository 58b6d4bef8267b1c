// One mall service per process. Built four times, with MALL_ROLE set to the role:
//   mall_user    --listen HOST:PORT --db PATH        the user service (gRPC)
//   mall_product --listen HOST:PORT --db PATH        the product service (gRPC)
//   mall_order   --listen HOST:PORT --db PATH        the order service (gRPC)
//   mall_api     --listen HOST:PORT --user T --product T --order T
//                (--dtxd HOST:PORT | --store sqlite://PATH)   the HTTP API
// Binds 127.0.0.1 unless told otherwise (port 0: any free port). Prints
// "<role>: listening on HOST:PORT" when ready; stops on SIGTERM or SIGINT.
#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <thread>

#include "api/mall_api.h"
#include "dtx/coordinator.h"
#include "dtx/grpc/grpc_submitter.h"
#include "dtx/grpc/grpc_transport.h"
#include "dtx/http/http_branch.h"
#include "dtx/soci/soci_store.h"
#include "order/order_service.h"
#include "product/product_service.h"
#include "user/user_service.h"

namespace {

constexpr const char* kRole = MALL_ROLE;

void WaitForStop(sigset_t* signals) {
  int signal = 0;
  sigwait(signals, &signal);
}

// Serves one gRPC service until a stop signal.
int ServeGrpc(grpc::Service* service, const std::string& listen, sigset_t* signals) {
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "%s: cannot listen on %s\n", kRole, listen.c_str());
    return 1;
  }
  std::printf("%s: listening on %s:%d\n", kRole,
              listen.substr(0, listen.rfind(':')).c_str(), port);
  std::fflush(stdout);
  WaitForStop(signals);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string role = kRole;
  CLI::App app{std::string(kRole) + ": a service of the dtx mall example"};
  std::string listen = "127.0.0.1:0", db, user, product, order, dtxd, store;
  app.add_option("--listen", listen, "Address to serve on")->capture_default_str();
  if (role == "mall_api") {
    app.add_option("--user", user, "User service address")->required();
    app.add_option("--product", product, "Product service address")->required();
    app.add_option("--order", order, "Order service address")->required();
    app.add_option("--dtxd", dtxd, "dtxd's gRPC address");
    app.add_option("--store", store, "Embedded coordinator's storage URL");
  } else {
    app.add_option("--db", db, "The service's database: a storage URL or an SQLite path")
        ->required();
  }
  CLI11_PARSE(app, argc, argv);

  signal(SIGPIPE, SIG_IGN);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (role == "mall_user" || role == "mall_product" || role == "mall_order") {
    const mall::Schema& schema = role == "mall_user"      ? mall::kUserSchema
                                 : role == "mall_product" ? mall::kProductSchema
                                                          : mall::kOrderSchema;
    auto database = mall::Database::Open(db, schema);
    if (!database.ok()) {
      std::fprintf(stderr, "%s: %s\n", kRole, database.status().ToString().c_str());
      return 1;
    }
    if (role == "mall_user") {
      mall::Users users(database->get());
      mall::UserServiceImpl service(&users);
      return ServeGrpc(&service, listen, &signals);
    }
    if (role == "mall_product") {
      mall::Products products(database->get());
      mall::ProductServiceImpl service(database->get(), &products);
      return ServeGrpc(&service, listen, &signals);
    }
    mall::Orders orders(database->get());
    mall::OrderServiceImpl service(database->get(), &orders);
    return ServeGrpc(&service, listen, &signals);
  }

  // mall_api: the HTTP API, with an embedded coordinator or dtxd.
  if (dtxd.empty() == store.empty()) {
    std::fprintf(stderr, "%s: give exactly one of --dtxd and --store\n", kRole);
    return 2;
  }
  std::unique_ptr<dtx::SociStore> sql_store;
  std::unique_ptr<dtx::GrpcTransport> transport;
  std::unique_ptr<dtx::Coordinator> coordinator;
  std::unique_ptr<dtx::GrpcSubmitter> remote;
  dtx::Submitter* submitter = nullptr;
  if (!store.empty()) {
    auto opened = dtx::SociStore::Open({.url = store});
    if (!opened.ok()) {
      std::fprintf(stderr, "%s: %s\n", kRole, opened.status().ToString().c_str());
      return 1;
    }
    sql_store = *std::move(opened);
    transport = std::make_unique<dtx::GrpcTransport>();
    dtx::CoordinatorOptions options;
    options.store = sql_store.get();
    options.transports = {{"grpc", transport.get()}};
    coordinator = *dtx::Coordinator::Start(options);
    submitter = coordinator.get();
  } else {
    dtx::GrpcSubmitterOptions options;
    options.target = dtxd;
    remote = std::make_unique<dtx::GrpcSubmitter>(options);
    submitter = remote.get();
  }
  mall::MallApiOptions api_options;
  api_options.user_target = user;
  api_options.product_target = product;
  api_options.order_target = order;
  api_options.submitter = submitter;
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
  std::printf("%s: listening on %s:%d\n", kRole, host.c_str(), *port);
  std::fflush(stdout);
  WaitForStop(&signals);
  http.Stop();
  if (coordinator) coordinator->Shutdown();
  return 0;
}
