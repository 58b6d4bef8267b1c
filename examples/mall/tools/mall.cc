// mall: the reference application of dtx (order creation as a saga, payment as a TCC
// and a 2-phase message, all with barriers).
//
//   mall demo  [--dir DIR] [--dtxd HOST:PORT] [--db-url URL]   start everything in this
//       process (on SQLite in a fresh directory unless --db-url names a database) and
//       play the scenarios (demo.h); exit 1 if any differs
//   mall serve [--dir DIR] [--port N] [--dtxd HOST:PORT]   run the mall until SIGTERM
//
// Without --dtxd the coordinator is embedded (dir/dtx.db); with it, order sagas go to
// that dtxd's gRPC API.
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "demo.h"
#include "dtx/soci/storage_url.h"
#include "mall_node.h"

int main(int argc, char** argv) {
  CLI::App app{"mall: order creation as a dtx saga, payment as a dtx TCC and message"};
  app.require_subcommand(1);
  std::string dir, dtxd, db_url;
  int port = 0;
  CLI::App* demo = app.add_subcommand("demo", "Play the demo's scenarios and check them");
  CLI::App* serve = app.add_subcommand("serve", "Run the mall until SIGTERM");
  for (CLI::App* cmd : {demo, serve}) {
    cmd->add_option("--dir", dir,
                    "Directory of the databases (default: a new one in /tmp)");
    cmd->add_option("--dtxd", dtxd,
                    "dtxd's gRPC address (default: embedded coordinator)");
    cmd->add_option("--db-url", db_url,
                    "One storage URL for every service's tables and the embedded "
                    "coordinator (default: SQLite files in --dir)");
  }
  serve->add_option("--port", port, "HTTP API port on 127.0.0.1 (default: any free)");
  CLI11_PARSE(app, argc, argv);

  signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  if (dir.empty()) {
    char pattern[] = "/tmp/dtx-mall-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return 2;
    dir = pattern;
  }
  mall::MallNodeOptions options;
  options.dir = dir;
  options.api_port = port;
  options.dtxd_grpc = dtxd;
  options.user_db = options.product_db = options.order_db = options.pay_db =
      options.store_url = db_url;
  auto node = mall::MallNode::Start(options);
  if (!node.ok()) {
    std::fprintf(stderr, "mall: %s\n", node.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "mall: API %s, services user %s product %s order %s pay %s, databases in %s, %s\n",
      (*node)->api_base().c_str(), (*node)->user_target().c_str(),
      (*node)->product_target().c_str(), (*node)->order_target().c_str(),
      (*node)->pay_target().c_str(),
      db_url.empty() ? dir.c_str() : dtx::RedactedUrl(db_url).c_str(),
      dtxd.empty() ? "embedded coordinator" : ("dtxd at " + dtxd).c_str());
  std::fflush(stdout);
  if (*demo) {
    int failed = mall::RunDemo({.api_base = (*node)->api_base(),
                                .product_target = (*node)->product_target(),
                                .user_target = (*node)->user_target(),
                                .product_db = (*node)->product_db(),
                                .order_db = (*node)->order_db(),
                                .user_db = (*node)->user_db()});
    return failed == 0 ? 0 : 1;
  }
  int signal = 0;
  sigwait(&stop_signals, &signal);
  return 0;
}
