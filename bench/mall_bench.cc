// mall_bench: orders per second through the mall's HTTP API (each order is a 2-step
// saga over gRPC with barriers, all on SQLite), with the embedded coordinator and with
// dtxd as a separate process, for 1, 8 and 32 clients.
//
// Usage: mall_bench [--seconds N] [--clients 1,8,32]
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "dtxd_child.h"
#include "mall_node.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double RunOrders(int port, int64_t uid, int64_t pid, int clients, double seconds,
                 long* errors) {
  std::atomic<long> done{0}, failed{0};
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      const std::string body = json{{"uid", uid}, {"pid", pid}, {"num", 1}}.dump();
      while (Clock::now() < end) {
        httplib::Result r = client.Post("/api/order/create", body, "application/json");
        (r && r->status == 200 ? done : failed)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  *errors = failed;
  return done / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  std::vector<int> clients = {1, 8, 32};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string name = argv[i];
    if (name == "--seconds") {
      seconds = std::atof(argv[i + 1]);
    } else if (name == "--clients") {
      clients.clear();
      for (absl::string_view c : absl::StrSplit(argv[i + 1], ',')) {
        int n = 0;
        if (absl::SimpleAtoi(c, &n) && n > 0) clients.push_back(n);
      }
    } else {
      std::fprintf(stderr, "usage: mall_bench [--seconds N] [--clients 1,8,32]\n");
      return 2;
    }
  }
  char pattern[] = "/tmp/dtx-mall-bench-XXXXXX";
  const std::string dir = mkdtemp(pattern);
  std::printf(
      "mall_bench: %u cores, %.1f s per figure, SQLite (WAL, FULL) everywhere, %s\n",
      std::thread::hardware_concurrency(), seconds, dir.c_str());
  std::printf("%-22s %8s %10s %7s\n", "coordinator", "clients", "orders/s", "errors");
  for (const char* mode : {"embedded", "dtxd"}) {
    const bool remote = std::string(mode) == "dtxd";
    const std::string sub = dir + "/" + mode;
    std::unique_ptr<dtx::bench::DtxdChild> dtxd;
    if (remote) dtxd = std::make_unique<dtx::bench::DtxdChild>("sqlite://" + sub + "-dtxd.db");
    mall::MallNodeOptions options;
    options.dir = sub;
    options.dtxd_grpc = remote ? dtxd->grpc_target() : "";
    auto node = mall::MallNode::Start(options);
    if (!node.ok()) {
      std::fprintf(stderr, "%s\n", node.status().ToString().c_str());
      return 1;
    }
    httplib::Client c("127.0.0.1", (*node)->api_port());
    json user = json::parse(
        c.Post("/api/user/create", R"({"name":"bench","mobile":"1"})", "application/json")
            ->body);
    json product = json::parse(c.Post("/api/product/create",
                                      R"({"name":"p","stock":1000000000,"amount":1})",
                                      "application/json")
                                   ->body);
    for (int n : clients) {
      long errors = 0;
      double rate =
          RunOrders((*node)->api_port(), user["id"], product["id"], n, seconds, &errors);
      std::printf("%-22s %8d %10.0f %7ld\n",
                  remote ? "dtxd (separate process)" : "embedded", n, rate, errors);
      std::fflush(stdout);
    }
  }
  return 0;
}
