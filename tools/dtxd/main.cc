// dtxd: the dtx coordinator as a standalone server, speaking DTM's HTTP API
// (/api/dtmsvr) and DTM's gRPC service (dtmgimp.Dtm). Binds 127.0.0.1 unless told
// otherwise; stores transactions in SQLite by default; stops gracefully on SIGTERM or
// SIGINT (stops accepting requests, lets running passes end, exits 0).
//
// Prints one line when ready: "dtxd: http HOST:PORT grpc HOST:PORT store URL".
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "dtx/coordinator.h"
#include "dtx/grpc/grpc_transport.h"
#include "dtx/http/http_branch.h"
#include "dtx/http/http_transport.h"
#include "dtx/soci/soci_store.h"
#include "dtx/soci/storage_url.h"
#include "otel/otel_tracer.h"
#include "server/admin_page.h"
#include "server/api_metrics.h"
#include "server/auth_tokens.h"
#include "server/grpc_api.h"
#include "server/http_api.h"

namespace {

constexpr std::string_view kVersion = "0.1.0";

struct Flags {
  std::string http_listen = "127.0.0.1:36789";
  std::string grpc_listen = "127.0.0.1:36790";
  std::string store = "sqlite://dtx.db";
  double request_timeout = 3;
  double retry_interval = 10;
  double timeout_to_fail = 35;
  double max_backoff = 3600;
  double lease = 60;
  double poll_interval = 1;
  size_t max_body_bytes = 1 << 20;
  double retention = 0;
  int http_threads = 64;
  int branch_threads = 64;
  int store_connections = 8;
  int store_writers = 0;
  bool answer_before_final_write = false;
  double lazy_write_wait = 0.002;
  int max_steps = 1000;
  double max_request_timeout = 3600;
  double max_timeout_to_fail = 7 * 24 * 3600;
  int max_calls_per_transaction = 64;
  double stop_timeout = 10;
  std::string auth_token_file;
  bool insecure = false;
  std::vector<std::string> branch_allow;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string branch_ca;
  int max_connections_per_address = 32;
  int sync_waits = -1;  // -1: half of http_threads
  int max_calls_in_flight = 4096;
  std::string log_level = "info";
  std::string log_format = "json";
  double stuck_after = 60;
  std::string otlp_endpoint;
  std::string otlp_protocol = "http/protobuf";
  double otlp_sample_ratio = 1;
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

// 127.0.0.0/8, ::1 and "localhost": reachable from this machine only.
bool IsLoopback(std::string host) {
  if (host == "localhost") return true;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned char address[16];
  if (inet_pton(AF_INET, host.c_str(), address) == 1) return address[0] == 127;
  if (inet_pton(AF_INET6, host.c_str(), address) == 1) {
    static const unsigned char kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                                0, 0, 0, 0, 0, 0, 0, 1};
    return std::memcmp(address, kLoopback, 16) == 0;
  }
  return false;  // any other name may resolve beyond this machine
}

// The whole of a small file (a PEM certificate or key); false when it cannot be read.
bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream text;
  text << in.rdbuf();
  *out = text.str();
  return true;
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
  app.add_option("--timeout-to-fail", f.timeout_to_fail,
                 "A TCC or message still prepared this long is settled (TCC rolled "
                 "back, message's query_prepared asked), unless it gives its own, s")
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
                 "Threads committing writes in groups; 0: 2 on MySQL, else 1")
      ->capture_default_str();
  app.add_flag("--answer-before-final-write", f.answer_before_final_write,
               "Relaxed durability: answer wait_result once the final status is "
               "decided, before it is durable; a crash in between drives the "
               "transaction again and calls its branches again (README, \"Answer "
               "before the final write\")");
  app.add_option("--lazy-write-wait", f.lazy_write_wait,
                 "How long a final write under --answer-before-final-write may wait "
                 "to share a commit, s (at most 1)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--max-steps", f.max_steps, "Most steps a submitted saga may have")
      ->capture_default_str();
  app.add_option("--max-request-timeout", f.max_request_timeout,
                 "Largest request_timeout a transaction may ask for, s")
      ->capture_default_str();
  app.add_option("--max-timeout-to-fail", f.max_timeout_to_fail,
                 "Largest timeout_to_fail a transaction may ask for, s")
      ->capture_default_str();
  app.add_option("--max-calls-per-transaction", f.max_calls_per_transaction,
                 "Branch calls of one transaction in flight at once")
      ->capture_default_str();
  app.add_option("--auth-token-file", f.auth_token_file,
                 "Bearer tokens (one per line) that both APIs require; /api/ping stays "
                 "open");
  app.add_flag("--insecure", f.insecure,
               "Allow listening beyond loopback without --auth-token-file");
  app.add_option("--branch-allow", f.branch_allow,
                 "Addresses branches may be called at: CIDR blocks, addresses, host "
                 "names, *.domain, each with an optional :port (repeat, or comma "
                 "separated). Default: anywhere")
      ->delimiter(',');
  app.add_option("--tls-cert", f.tls_cert,
                 "PEM certificate chain: both APIs speak TLS (with --tls-key)");
  app.add_option("--tls-key", f.tls_key, "PEM private key of --tls-cert");
  app.add_option("--tls-client-ca", f.tls_client_ca,
                 "PEM CA certificates: clients must show a certificate they signed "
                 "(mutual TLS)");
  app.add_option("--branch-ca", f.branch_ca,
                 "PEM CA certificates that https branches are verified against "
                 "(default: the system's)");
  app.add_option(
         "--sync-waits", f.sync_waits,
         "wait_result submits whose first pass runs on their HTTP thread at once; "
         "more wait holding no thread (-1: half of --http-threads)")
      ->capture_default_str();
  app.add_option("--max-connections-per-address", f.max_connections_per_address,
                 "HTTP API connections served at once from one client address (0: no "
                 "limit)")
      ->capture_default_str();
  app.add_option("--max-calls-in-flight", f.max_calls_in_flight,
                 "Branch calls in flight at once over all transactions (0: no limit)")
      ->capture_default_str();
  app.add_option(
         "--stuck-after", f.stuck_after,
         "An unfinished transaction older than this counts as stuck in /metrics, s")
      ->capture_default_str();
  app.add_option("--log-level", f.log_level,
                 "Least level logged to stderr: debug, info (every transaction's status "
                 "changes), warn (failed branch calls), error")
      ->capture_default_str();
  app.add_option("--log-format", f.log_format, "json (JSON lines) or text (key=value)")
      ->check(CLI::IsMember({"json", "text"}))
      ->capture_default_str();
  app.add_option("--otlp-endpoint", f.otlp_endpoint,
                 "Export spans over OTLP/HTTP to this URL, e.g. "
                 "http://127.0.0.1:4318/v1/traces (default: no spans; the submitters' "
                 "trace context is passed on to branches anyway)");
  app.add_option("--otlp-protocol", f.otlp_protocol, "http/protobuf or http/json")
      ->check(CLI::IsMember({"http/protobuf", "http/json"}))
      ->capture_default_str();
  app.add_option("--otlp-sample-ratio", f.otlp_sample_ratio,
                 "Share of new traces whose spans are exported (a submitter's trace "
                 "follows its own sampling flag)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--stop-timeout", f.stop_timeout,
                 "After SIGTERM, exit at the latest this long after, s")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // Debian's abseil checks every Mutex for deadlock cycles (a lock graph kept on each
  // Lock and each Mutex destruction): a debugging aid that costs ~15% of a saga's CPU.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // A peer (or a reader of stdout) that went away must not kill the server.
  signal(SIGPIPE, SIG_IGN);
  // Signals are taken by one thread only: block them before any other thread starts.
  // Before dtxd is ready (a store that does not answer can hold start-up) a signal
  // ends the process at once: nothing has been accepted yet. After, it starts the
  // graceful stop below, and a stop that takes longer than --stop-timeout (a database
  // or branch that hangs) ends the process anyway; stored transactions stay stored.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  static std::atomic<bool> ready{false};
  static absl::Notification stop;
  static int stop_signal = 0;
  const double stop_timeout = f.stop_timeout;
  std::thread([stop_signals, stop_timeout]() mutable {
    sigwait(&stop_signals, &stop_signal);
    if (!ready) {
      std::fprintf(stderr, "dtxd: signal %d while starting, exiting\n", stop_signal);
      std::_Exit(1);
    }
    stop.Notify();
    std::this_thread::sleep_for(std::chrono::duration<double>(stop_timeout));
    std::fprintf(stderr, "dtxd: not stopped within %.0f s, exiting\n", stop_timeout);
    std::_Exit(1);
  }).detach();

  absl::StatusOr<dtx::LogLevel> log_level = dtx::ParseLogLevel(f.log_level);
  if (!log_level.ok()) {
    std::fprintf(stderr, "dtxd: --log-level: %s\n",
                 std::string(log_level.status().message()).c_str());
    return 2;
  }
  dtx::StreamLogger logger(
      f.log_format == "text" ? dtx::LogFormat::kKeyValue : dtx::LogFormat::kJsonLines,
      *log_level);
  dtx::ApiMetrics api_metrics;
  std::unique_ptr<dtx::OtelTracer> tracer;
  if (!f.otlp_endpoint.empty()) {
    absl::StatusOr<std::unique_ptr<dtx::OtelTracer>> made =
        dtx::OtelTracer::Create({.endpoint = f.otlp_endpoint,
                                 .protocol = f.otlp_protocol,
                                 .sample_ratio = f.otlp_sample_ratio,
                                 .version = std::string(kVersion),
                                 .logger = &logger});
    if (!made.ok()) {
      std::fprintf(stderr, "dtxd: --otlp-endpoint: %s\n",
                   std::string(made.status().message()).c_str());
      return 2;
    }
    tracer = *std::move(made);
  }

  dtx::AuthTokens tokens;
  if (!f.auth_token_file.empty()) {
    absl::StatusOr<dtx::AuthTokens> read = dtx::AuthTokens::FromFile(f.auth_token_file);
    if (!read.ok()) {
      std::fprintf(stderr, "dtxd: --auth-token-file: %s\n",
                   std::string(read.status().message()).c_str());
      return 2;
    }
    tokens = *std::move(read);
  }
  for (const std::string* listen : {&f.http_listen, &f.grpc_listen}) {
    const std::string host = listen->substr(0, listen->rfind(':'));
    if (!listen->empty() && !IsLoopback(host) && !tokens.enabled() && !f.insecure) {
      std::fprintf(stderr,
                   "dtxd: refusing to listen on %s without --auth-token-file: anyone "
                   "who reaches it could submit, stop and read every transaction "
                   "(--insecure to do it anyway)\n",
                   listen->c_str());
      return 2;
    }
  }

  dtx::SociStoreOptions store_options;
  store_options.url = f.store;
  store_options.pool_size = std::max(1, f.store_connections);
  store_options.writers = f.store_writers;
  store_options.lazy_write_wait = Seconds(f.lazy_write_wait);
  auto store = dtx::SociStore::Open(store_options);
  if (!store.ok()) {
    std::fprintf(stderr, "dtxd: %s\n", store.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<dtx::AllowList> allow = dtx::AllowList::Parse(f.branch_allow);
  if (!allow.ok()) {
    std::fprintf(stderr, "dtxd: --branch-allow: %s\n",
                 std::string(allow.status().message()).c_str());
    return 2;
  }
  if (f.tls_cert.empty() != f.tls_key.empty() ||
      (!f.tls_client_ca.empty() && f.tls_cert.empty())) {
    std::fprintf(stderr,
                 "dtxd: --tls-cert and --tls-key go together (and "
                 "--tls-client-ca needs them)\n");
    return 2;
  }
  dtx::HttpTransportOptions http_options;
  http_options.threads = f.branch_threads;
  http_options.allow = *allow;
  http_options.ca_file = f.branch_ca;
  dtx::HttpTransport http_branches(http_options);
  dtx::GrpcTransportOptions grpc_options;
  grpc_options.allow = *allow;
  dtx::GrpcTransport grpc_branches(grpc_options);
  dtx::CoordinatorOptions options;
  options.store = store->get();
  options.transports = {{"http", &http_branches}, {"grpc", &grpc_branches}};
  options.request_timeout = Seconds(f.request_timeout);
  options.retry_interval = Seconds(f.retry_interval);
  options.timeout_to_fail = Seconds(f.timeout_to_fail);
  options.max_backoff = Seconds(f.max_backoff);
  options.lease = Seconds(f.lease);
  options.poll_interval = Seconds(f.poll_interval);
  options.retention = Seconds(f.retention);
  options.max_steps = f.max_steps;
  options.max_request_timeout = Seconds(f.max_request_timeout);
  options.max_timeout_to_fail = Seconds(f.max_timeout_to_fail);
  options.max_calls_per_transaction = f.max_calls_per_transaction;
  options.max_calls_in_flight = f.max_calls_in_flight;
  options.answer_before_final_write = f.answer_before_final_write;
  options.logger = &logger;
  options.stuck_after = Seconds(f.stuck_after);
  options.tracer = tracer.get();
  auto coordinator = dtx::Coordinator::Start(options);
  if (!coordinator.ok()) {
    std::fprintf(stderr, "dtxd: %s\n", coordinator.status().ToString().c_str());
    return 1;
  }

  dtx::internal::HttpServer http(
      {.threads = std::max(1, f.http_threads),
       .max_body_bytes = f.max_body_bytes,
       .max_connections_per_address = f.max_connections_per_address,
       .tls_cert_file = f.tls_cert,
       .tls_key_file = f.tls_key,
       .tls_client_ca_file = f.tls_client_ca,
       .on_answer = [&api_metrics](std::string_view route, int status) {
         api_metrics.Answered("http", route, std::to_string(status));
       }});
  std::string http_host = "-";
  int http_port = 0;
  if (!f.http_listen.empty()) {
    if (!SplitHostPort(f.http_listen, &http_host, &http_port)) {
      std::fprintf(stderr, "dtxd: --http-listen wants HOST:PORT, got '%s'\n",
                   f.http_listen.c_str());
      return 2;
    }
    dtx::ServeDtmHttpApi(
        http, **coordinator,
        {.tokens = &tokens,
         .max_sync_waits = f.sync_waits >= 0 ? f.sync_waits : f.http_threads / 2,
         .metrics = &api_metrics});
    dtx::ServeAdminPage(http);
    absl::StatusOr<int> bound = http.Start(http_host, http_port);
    if (!bound.ok()) {
      std::fprintf(stderr, "dtxd: cannot listen on %s: %s\n", f.http_listen.c_str(),
                   std::string(bound.status().message()).c_str());
      return 1;
    }
    http_port = *bound;
  }

  dtx::DtmGrpcService grpc_api(coordinator->get(), &tokens, &api_metrics);
  std::unique_ptr<grpc::Server> grpc_server;
  int grpc_port = 0;
  if (!f.grpc_listen.empty()) {
    std::shared_ptr<grpc::ServerCredentials> credentials =
        grpc::InsecureServerCredentials();
    if (!f.tls_cert.empty()) {
      grpc::SslServerCredentialsOptions tls(
          f.tls_client_ca.empty()
              ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
              : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
      if (!ReadFile(f.tls_cert, &pair.cert_chain) ||
          !ReadFile(f.tls_key, &pair.private_key) ||
          (!f.tls_client_ca.empty() && !ReadFile(f.tls_client_ca, &tls.pem_root_certs))) {
        std::fprintf(stderr, "dtxd: cannot read the TLS files\n");
        return 1;
      }
      tls.pem_key_cert_pairs.push_back(pair);
      credentials = grpc::SslServerCredentials(tls);
    }
    grpc::ServerBuilder builder;
    builder.AddListeningPort(f.grpc_listen, credentials, &grpc_port);
    builder.RegisterService(&grpc_api);
    grpc_server = builder.BuildAndStart();
    if (grpc_server == nullptr || grpc_port == 0) {
      std::fprintf(stderr, "dtxd: cannot listen on %s\n", f.grpc_listen.c_str());
      return 1;
    }
  }
  std::string grpc_host = f.grpc_listen.substr(0, f.grpc_listen.rfind(':'));
  const std::string store_shown = dtx::RedactedUrl(f.store);  // no password
  std::printf("dtxd: http %s:%d grpc %s:%d store %s\n", http_host.c_str(), http_port,
              grpc_host.empty() ? "-" : grpc_host.c_str(), grpc_port,
              store_shown.c_str());
  std::fflush(stdout);
  logger.Log(
      dtx::LogLevel::kInfo, "started",
      std::vector<dtx::LogField>{
          {"http", absl::StrCat(http_host, ":", http_port)},
          {"grpc", absl::StrCat(grpc_host.empty() ? "-" : grpc_host, ":", grpc_port)},
          {"store", store_shown}});

  ready = true;
  stop.WaitForNotification();
  std::printf("dtxd: signal %d, stopping\n", stop_signal);
  std::fflush(stdout);
  http.Stop();
  if (grpc_server != nullptr) {
    // Calls still running after a second are cancelled; their transactions, if stored,
    // are driven on by the coordinator below, and the caller may submit them again.
    grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  (*coordinator)->Shutdown();
  if (tracer != nullptr) tracer->Shutdown();
  logger.Log(dtx::LogLevel::kInfo, "stopped",
             std::vector<dtx::LogField>{{"signal", std::to_string(stop_signal)}});
  std::printf("dtxd: stopped\n");
  return 0;
}
