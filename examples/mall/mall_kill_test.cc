// The coordinator (dtxd; its store and the mall's databases on the conformance
// backend) is killed with SIGKILL
// at random moments while the mall takes orders from several clients, and restarted,
// again and again. Afterwards: every transaction finished; stock + units sold = initial
// stock; an order is valid exactly when its stock was taken.
// Default size: 2000 orders, 20 kills (~7 s). DTX_LARGE_TESTS=1: 10000 orders, 60 kills.
#include <httplib.h>
#include <soci/soci.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "conformance.h"
#include "dtx/soci/storage_url.h"
#include "dtxd_process.h"
#include "mall_checks.h"
#include "mall_node.h"
#include "order/orders.h"
#include "test_util.h"

namespace mall {
namespace {

using nlohmann::json;

bool Large() {
  const char* v = std::getenv("DTX_LARGE_TESTS");
  return v != nullptr && std::string(v) == "1";
}

std::unique_ptr<dtx::testing::ChildProcess> StartDtxd(int grpc_port, int http_port) {
  return std::make_unique<dtx::testing::ChildProcess>(std::vector<std::string>{
      DTX_DTXD_BINARY, "--http-listen", "127.0.0.1:" + std::to_string(http_port),
      "--grpc-listen", "127.0.0.1:" + std::to_string(grpc_port), "--store",
      dtx::testing::ConformanceUrl(), "--lease", "1", "--poll-interval", "0.1",
      "--retry-interval", "0.2", "--max-backoff", "1"});
}

TEST_CASE("dtxd killed again and again while the mall takes orders") {
  const int kOrders = Large() ? 10000 : 2000;
  const int kKills = Large() ? 60 : 20;
  const int64_t kStock = kOrders / 2;
  const std::string dir = dtx::testing::NewTempDir("mall-kill");
  dtx::testing::FreshStore().reset();
  const std::string db = dtx::testing::ConformanceUrl();
  testing::DropMallTables(db);

  auto dtxd = StartDtxd(0, 0);
  int http_port = 0, grpc_port = 0;
  REQUIRE(std::sscanf(dtxd->ready_line().c_str(),
                      "dtxd: http 127.0.0.1:%d grpc 127.0.0.1:%d", &http_port,
                      &grpc_port) == 2);
  MallNodeOptions options;
  options.dir = dir;
  options.dtxd_grpc = "127.0.0.1:" + std::to_string(grpc_port);
  options.user_db = options.product_db = options.order_db = db;
  auto started = MallNode::Start(options);
  REQUIRE(started.ok());
  std::unique_ptr<MallNode> node = *std::move(started);
  httplib::Client c("127.0.0.1", node->api_port());
  json user = json::parse(
      c.Post("/api/user/create", R"({"name":"k","mobile":"7"})", "application/json")
          ->body);
  json product =
      json::parse(c.Post("/api/product/create",
                         json{{"name", "p"}, {"stock", kStock}, {"amount", 1}}.dump(),
                         "application/json")
                      ->body);

  // Clients place orders until kOrders were taken (answered 200, 409 or 202); a 503
  // (the coordinator was down: the order may or may not be stored) is tried again as a
  // new order after a pause, as a shop's client would.
  std::atomic<int> taken_in{0}, ok{0}, refused{0}, pending{0}, unavailable{0}, other{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      httplib::Client client("127.0.0.1", node->api_port());
      client.set_read_timeout(std::chrono::seconds(60));
      for (int attempts = 0; taken_in < kOrders && attempts < kOrders * 10; ++attempts) {
        httplib::Result r = client.Post(
            "/api/order/create",
            json{{"uid", user["id"]}, {"pid", product["id"]}, {"num", 1}}.dump(),
            "application/json");
        if (r && (r->status == 200 || r->status == 409 || r->status == 202)) {
          ++taken_in;
          (r->status == 200 ? ok : r->status == 409 ? refused : pending)++;
        } else if (r && r->status == 503) {
          ++unavailable;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        } else {
          ++other;
        }
      }
    });
  }
  std::mt19937 rng(7);
  int kills = 0;
  for (; kills < kKills && taken_in < kOrders; ++kills) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(100, 500)(rng)));
    dtxd->Kill();
    dtxd = StartDtxd(grpc_port, http_port);
  }
  for (auto& t : clients) t.join();
  INFO("orders: " << ok << " ok, " << refused << " refused, " << pending
                  << " still running, " << unavailable
                  << " refused while the coordinator "
                  << "was down, " << other << " other; " << kills << " kills");
  CHECK(other == 0);
  CHECK(taken_in >= kOrders);
  CHECK(kills >= kKills / 2);

  // Every stored transaction ends.
  httplib::Client admin("127.0.0.1", http_port);
  auto unfinished = [&] {
    int n = 0;
    for (const char* status : {"submitted", "aborting"}) {
      httplib::Result r =
          admin.Get((std::string("/api/dtmsvr/all?limit=1000&status=") + status).c_str());
      REQUIRE(r);
      n += static_cast<int>(json::parse(r->body)["transactions"].size());
    }
    return n;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (unfinished() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  REQUIRE(unfinished() == 0);

  // An order is valid exactly when its stock was taken, and the units add up.
  const std::map<std::string, bool> taken = testing::StockTaken(db);
  json orders = json::parse(
      c.Post("/api/order/list", json{{"uid", user["id"]}}.dump(), "application/json")
          ->body)["orders"];
  int valid = 0;
  for (const json& o : orders) {
    const std::string gid = o["gid"];
    const bool stock_taken = taken.count(gid) > 0 && taken.at(gid);
    INFO(gid << " status " << o["status"]);
    CHECK((o["status"] == kOrderCreated) == stock_taken);
    valid += o["status"] == kOrderCreated;
  }
  for (const auto& [gid, kept] : taken) {
    if (!kept) continue;
    // Stock taken for a saga must belong to a valid order.
    bool found = false;
    for (const json& o : orders)
      found = found || (o["gid"] == gid && o["status"] == kOrderCreated);
    INFO(gid);
    CHECK(found);
  }
  json after = json::parse(c.Post("/api/product/detail",
                                  json{{"id", product["id"]}}.dump(), "application/json")
                               ->body);
  CHECK(after["stock"].get<int64_t>() + valid == kStock);
  CHECK(valid >= ok);  // every order answered 200 is valid (202/503 ones may be too)
  node.reset();
  CHECK(dtxd->Terminate() == 0);
}

}  // namespace
}  // namespace mall
