// The mall under a bad network, its databases on the conformance backend: the
// coordinator's branch calls go through a forwarding wrapper that injects transient
// errors, lost answers, calls that hang past their timeout and reach the branch late
// (after their compensation, often), and duplicated deliveries. The invariants must hold
// all the same.
#include <httplib.h>
#include <soci/soci.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "conformance.h"
#include "dtx/soci/storage_url.h"
#include "faulty_transport.h"
#include "mall_checks.h"
#include "mall_node.h"
#include "order/orders.h"
#include "test_util.h"

namespace mall {
namespace {

using nlohmann::json;

TEST_CASE("orders through injected network faults keep every invariant") {
  const std::string dir = dtx::testing::NewTempDir("mall-faults");
  dtx::GrpcTransport grpc;
  dtx::testing::FaultyTransport faulty(&grpc, dtx::testing::Faults{});
  dtx::testing::FreshStore().reset();
  const std::string db = dtx::testing::ConformanceUrl();
  testing::DropMallTables(db);
  MallNodeOptions options;
  options.dir = dir;
  options.store_url = db;  // the coordinator's store and every service's database
  options.user_db = options.product_db = options.order_db = db;
  options.transport = &faulty;
  options.retry_interval = absl::Milliseconds(100);
  options.branch_timeout = absl::Milliseconds(300);
  auto started = MallNode::Start(options);
  REQUIRE(started.ok());
  std::unique_ptr<MallNode> node = *std::move(started);
  httplib::Client c("127.0.0.1", node->api_port());
  const int64_t kStock = 150;
  json user = json::parse(
      c.Post("/api/user/create", R"({"name":"f","mobile":"9"})", "application/json")
          ->body);
  json product =
      json::parse(c.Post("/api/product/create",
                         json{{"name", "p"}, {"stock", kStock}, {"amount", 5}}.dump(),
                         "application/json")
                      ->body);
  std::atomic<int> answered{0}, unexpected{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&] {
      httplib::Client client("127.0.0.1", node->api_port());
      client.set_read_timeout(std::chrono::seconds(60));
      for (int i = 0; i < 40; ++i) {
        httplib::Result r = client.Post(
            "/api/order/create",
            json{{"uid", user["id"]}, {"pid", product["id"]}, {"num", 1}}.dump(),
            "application/json");
        ++answered;
        if (!r || (r->status != 200 && r->status != 409 && r->status != 202))
          ++unexpected;
      }
    });
  }
  for (auto& t : clients) t.join();
  CHECK(answered == 320);
  CHECK(unexpected == 0);

  // Every saga ends; then the late deliveries land (and must change nothing).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    if (node->coordinator()->List(0, "submitted", "", 1000)->empty() &&
        node->coordinator()->List(0, "aborting", "", 1000)->empty()) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(node->coordinator()->List(0, "submitted", "", 1000)->empty());
  CHECK(node->coordinator()->List(0, "aborting", "", 1000)->empty());
  faulty.WaitForLateCalls();
  INFO("faults: " << faulty.errors_before << " errors before, " << faulty.answers_lost
                  << " answers lost, " << faulty.hangs << " hangs, " << faulty.duplicates
                  << " duplicates");
  CHECK(faulty.errors_before > 0);
  CHECK(faulty.answers_lost > 0);
  CHECK(faulty.hangs > 0);
  CHECK(faulty.duplicates > 0);

  const std::map<std::string, bool> taken = testing::StockTaken(db);
  auto sagas = node->coordinator()->List(0, "", "", 1000);
  REQUIRE(sagas.ok());
  CHECK(sagas->size() == 320);
  int valid = 0;
  for (const dtx::TransGlobal& g : *sagas) {
    INFO(g.gid << " " << g.status << " " << g.rollback_reason);
    httplib::Result r =
        c.Post("/api/order/detail", json{{"gid", g.gid}}.dump(), "application/json");
    REQUIRE(r);
    const bool has_order = r->status == 200;
    const int64_t status = has_order ? json::parse(r->body)["status"].get<int64_t>() : -1;
    const bool stock_taken = taken.count(g.gid) > 0 && taken.at(g.gid);
    if (g.status == "succeed") {
      CHECK(status == kOrderCreated);
      CHECK(stock_taken);
      ++valid;
    } else {
      CHECK(g.status == "failed");
      CHECK((!has_order || status == kOrderInvalid));
      CHECK(!stock_taken);
    }
  }
  json after = json::parse(c.Post("/api/product/detail",
                                  json{{"id", product["id"]}}.dump(), "application/json")
                               ->body);
  CHECK(after["stock"].get<int64_t>() + valid == kStock);
  CHECK(valid <= kStock);
  node.reset();
}

}  // namespace
}  // namespace mall
