// dtxd: the dtx coordinator as a standalone server, speaking DTM's HTTP API
// (/api/dtmsvr) and DTM's gRPC service (dtmgimp.Dtm). Binds 127.0.0.1 unless told
// otherwise; stores transactions in SQLite by default; stops gracefully on SIGTERM or
// SIGINT (stops accepting requests, lets running passes end, exits 0).
//
// Prints one line when ready: "dtxd: http HOST:PORT grpc HOST:PORT store URL".
#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <thread>

#include "dtx/coordinator.h"
#include "dtx/grpc/grpc_transport.h"
#include "dtx/http/http_branch.h"
#include "dtx/http/http_transport.h"
#include "dtx/soci/soci_store.h"
#include "server/grpc_api.h"
#include "server/http_api.h"

namespace {

struct Flags {
  std::string http_listen = "127.0.0.1:36789";
  std::string grpc_listen = "127.0.0.1:36790";
  std::string store = "sqlite://dtx.db";
  double request_timeout = 3;
  double retry_interval = 10;
  double max_backoff = 3600;
  double lease = 60;
  double poll_interval = 1;
  size_t max_body_bytes = 1 << 20;
  double retention = 0;
  int http_threads = 64;
  int branch_threads = 64;
  int store_connections = 8;
  int store_writers = 0;
};

bool SplitHostPort(const std::string& listen, std::string* host, int* port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  *host = listen.substr(0, colon);
  try {
    *port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    return false;
  }
  return !host->empty() && *port >= 0 && *port < 65536;
}

absl::Duration Seconds(double s) {
  return absl::Milliseconds(static_cast<int64_t>(s * 1000));
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{
      "dtxd: the dtx coordinator as a server (DTM-compatible HTTP and gRPC APIs)"};
  app.set_config("--config", "", "Read options from this file (key = value lines)");
  app.add_option("--http-listen", f.http_listen, "HTTP API address (empty: off)")
      ->capture_default_str();
  app.add_option("--grpc-listen", f.grpc_listen, "gRPC API address (empty: off)")
      ->capture_default_str();
  app.add_option("--store", f.store, "Storage URL, e.g. sqlite:///var/lib/dtx/dtx.db")
      ->capture_default_str();
  app.add_option("--request-timeout", f.request_timeout, "Default branch call timeout, s")
      ->capture_default_str();
  app.add_option("--retry-interval", f.retry_interval, "Default retry interval, s")
      ->capture_default_str();
  app.add_option("--max-backoff", f.max_backoff, "Backoff cap, s")->capture_default_str();
  app.add_option("--lease", f.lease, "Lease of a claimed transaction, s")
      ->capture_default_str();
  app.add_option("--poll-interval", f.poll_interval, "Scan for due transactions every, s")
      ->capture_default_str();
  app.add_option("--retention", f.retention,
                 "Delete ended transactions older than this many seconds (0: keep)")
      ->capture_default_str();
  app.add_option("--max-body-bytes", f.max_body_bytes, "Largest request body")
      ->capture_default_str();
  app.add_option("--http-threads", f.http_threads,
                 "HTTP API connections served at once, a thread each")
      ->capture_default_str();
  app.add_option("--branch-threads", f.branch_threads,
                 "Threads delivering HTTP branch answers (and making https calls)")
      ->capture_default_str();
  app.add_option("--store-connections", f.store_connections, "Database connections")
      ->capture_default_str();
  app.add_option("--store-writers", f.store_writers,
                 "Threads committing writes in groups; 0: 1 on SQLite, else 2")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // Debian's abseil checks every Mutex for deadlock cycles (a lock graph kept on each
  // Lock and each Mutex destruction): a debugging aid that costs ~15% of a saga's CPU.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // A peer (or a reader of stdout) that went away must not kill the server.
  signal(SIGPIPE, SIG_IGN);
  // Signals are taken by sigwait below only: block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  dtx::SociStoreOptions store_options;
  store_options.url = f.store;
  store_options.pool_size = std::max(1, f.store_connections);
  store_options.writers = f.store_writers;
  auto store = dtx::SociStore::Open(store_options);
  if (!store.ok()) {
    std::fprintf(stderr, "dtxd: %s\n", store.status().ToString().c_str());
    return 1;
  }
  dtx::HttpTransport http_branches({.threads = f.branch_threads});
  dtx::GrpcTransport grpc_branches;
  dtx::CoordinatorOptions options;
  options.store = store->get();
  options.transports = {{"http", &http_branches}, {"grpc", &grpc_branches}};
  options.request_timeout = Seconds(f.request_timeout);
  options.retry_interval = Seconds(f.retry_interval);
  options.max_backoff = Seconds(f.max_backoff);
  options.lease = Seconds(f.lease);
  options.poll_interval = Seconds(f.poll_interval);
  options.retention = Seconds(f.retention);
  auto coordinator = dtx::Coordinator::Start(options);
  if (!coordinator.ok()) {
    std::fprintf(stderr, "dtxd: %s\n", coordinator.status().ToString().c_str());
    return 1;
  }

  dtx::internal::HttpServer http(
      {.threads = std::max(1, f.http_threads), .max_body_bytes = f.max_body_bytes});
  std::string http_host = "-";
  int http_port = 0;
  if (!f.http_listen.empty()) {
    if (!SplitHostPort(f.http_listen, &http_host, &http_port)) {
      std::fprintf(stderr, "dtxd: --http-listen wants HOST:PORT, got '%s'\n",
                   f.http_listen.c_str());
      return 2;
    }
    dtx::ServeDtmHttpApi(http, **coordinator);
    absl::StatusOr<int> bound = http.Start(http_host, http_port);
    if (!bound.ok()) {
      std::fprintf(stderr, "dtxd: cannot listen on %s\n", f.http_listen.c_str());
      return 1;
    }
    http_port = *bound;
  }

  dtx::DtmGrpcService grpc_api(coordinator->get());
  std::unique_ptr<grpc::Server> grpc_server;
  int grpc_port = 0;
  if (!f.grpc_listen.empty()) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(f.grpc_listen, grpc::InsecureServerCredentials(),
                             &grpc_port);
    builder.RegisterService(&grpc_api);
    grpc_server = builder.BuildAndStart();
    if (grpc_server == nullptr || grpc_port == 0) {
      std::fprintf(stderr, "dtxd: cannot listen on %s\n", f.grpc_listen.c_str());
      return 1;
    }
  }
  std::string grpc_host = f.grpc_listen.substr(0, f.grpc_listen.rfind(':'));
  std::printf("dtxd: http %s:%d grpc %s:%d store %s\n", http_host.c_str(), http_port,
              grpc_host.empty() ? "-" : grpc_host.c_str(), grpc_port, f.store.c_str());
  std::fflush(stdout);

  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::printf("dtxd: signal %d, stopping\n", signal);
  std::fflush(stdout);
  http.Stop();
  if (grpc_server != nullptr) {
    // Calls still running after a second are cancelled; their transactions, if stored,
    // are driven on by the coordinator below, and the caller may submit them again.
    grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  (*coordinator)->Shutdown();
  std::printf("dtxd: stopped\n");
  return 0;
}
