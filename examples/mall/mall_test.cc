// The mall end to end over real gRPC and HTTP on 127.0.0.1: the seed's three scenarios
// with the embedded coordinator and through dtxd as a separate process, 200 concurrent
// orders against a stock of 50, and bad input to the API.
#include <httplib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "demo.h"
#include "dtm_process.h"
#include "dtxd_process.h"
#include "mall_node.h"
#include "order/orders.h"
#include "test_util.h"

namespace mall {
namespace {

using nlohmann::json;

std::unique_ptr<MallNode> StartMall(const std::string& dir,
                                    const std::string& dtxd = "") {
  MallNodeOptions options;
  options.dir = dir;
  options.dtxd_grpc = dtxd;
  auto node = MallNode::Start(options);
  REQUIRE(node.ok());
  return *std::move(node);
}

json Post(httplib::Client& c, const std::string& path, const json& body, int* status) {
  httplib::Result r = c.Post(path.c_str(), body.dump(), "application/json");
  REQUIRE(r);
  *status = r->status;
  return json::parse(r->body);
}

TEST_CASE("the three scenarios, embedded coordinator") {
  const std::string dir = dtx::testing::NewTempDir("mall-embedded");
  auto node = StartMall(dir);
  CHECK(RunDemo({.api_base = node->api_base(),
                 .product_target = node->product_target(),
                 .product_db = "sqlite://" + dir + "/product.db",
                 .order_db = "sqlite://" + dir + "/order.db"}) == 0);
}

TEST_CASE("the three scenarios, through dtxd in its own process") {
  const std::string dir = dtx::testing::NewTempDir("mall-dtxd");
  dtx::testing::DtxdProcess dtxd(dir + "/dtxd.db");
  auto node = StartMall(dir, dtxd.grpc_target());
  CHECK(node->coordinator() == nullptr);
  CHECK(RunDemo({.api_base = node->api_base(),
                 .product_target = node->product_target(),
                 .product_db = "sqlite://" + dir + "/product.db",
                 .order_db = "sqlite://" + dir + "/order.db"}) == 0);
  httplib::Client c("127.0.0.1", dtxd.http_port());
  httplib::Result all = c.Get("/api/dtmsvr/all");
  REQUIRE(all);
  json list = json::parse(all->body)["transactions"];
  CHECK(list.size() == 3);  // the three order sagas, driven by dtxd
  node.reset();
  CHECK(dtxd.Terminate() == 0);
}

TEST_CASE("the three scenarios, with the real DTM as the coordinator over gRPC") {
  // DTM (../shared/peers) takes the order sagas from GrpcSubmitter and calls the mall's
  // gRPC branches, whose barriers see DTM's metadata.
  const std::string dir = dtx::testing::NewTempDir("mall-dtm");
  dtx::testing::DtmProcess dtm(dir);
  auto node = StartMall(dir, dtm.grpc_target());
  CHECK(RunDemo({.api_base = node->api_base(),
                 .product_target = node->product_target(),
                 .product_db = "sqlite://" + dir + "/product.db",
                 .order_db = "sqlite://" + dir + "/order.db"}) == 0);
  httplib::Client c("127.0.0.1", dtm.http_port());
  httplib::Result all = c.Get("/api/dtmsvr/all");
  REQUIRE(all);
  const json list = json::parse(all->body)["transactions"];
  REQUIRE(list.size() == 3);  // the three order sagas, driven by DTM
  for (const json& t : list) CHECK(t["protocol"] == "grpc");
}

TEST_CASE("the three scenarios, one process per service plus dtxd") {
  const std::string dir = dtx::testing::NewTempDir("mall-processes");
  const std::string bin = MALL_BIN_DIR;
  dtx::testing::DtxdProcess dtxd(dir + "/dtxd.db");
  dtx::testing::ChildProcess user({bin + "/mall_user", "--db", dir + "/user.db"});
  dtx::testing::ChildProcess product(
      {bin + "/mall_product", "--db", dir + "/product.db"});
  dtx::testing::ChildProcess order({bin + "/mall_order", "--db", dir + "/order.db"});
  auto target = [](const dtx::testing::ChildProcess& p) {
    return "127.0.0.1:" + std::to_string(p.port());
  };
  dtx::testing::ChildProcess api({bin + "/mall_api", "--user", target(user), "--product",
                                  target(product), "--order", target(order), "--dtxd",
                                  dtxd.grpc_target()});
  CHECK(RunDemo({.api_base = "http://127.0.0.1:" + std::to_string(api.port()),
                 .product_target = target(product),
                 .product_db = "sqlite://" + dir + "/product.db",
                 .order_db = "sqlite://" + dir + "/order.db"}) == 0);
  for (auto* p : {&api, &order, &product, &user}) CHECK(p->Terminate() == 0);
  CHECK(dtxd.Terminate() == 0);
}

TEST_CASE("200 concurrent orders of 1 unit against a stock of 50") {
  const std::string dir = dtx::testing::NewTempDir("mall-load");
  auto node = StartMall(dir);
  httplib::Client c("127.0.0.1", node->api_port());
  int status = 0;
  json user = Post(c, "/api/user/create", {{"name", "bob"}, {"mobile", "1"}}, &status);
  json product = Post(c, "/api/product/create",
                      {{"name", "ticket"}, {"stock", 50}, {"amount", 10}}, &status);
  const int64_t uid = user["id"], pid = product["id"];

  std::atomic<int> ok{0}, refused{0}, other{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> clients;
  for (int i = 0; i < 200; ++i) {
    clients.emplace_back([&] {
      httplib::Client client("127.0.0.1", node->api_port());
      client.set_read_timeout(std::chrono::seconds(60));
      while (!go) std::this_thread::yield();
      httplib::Result r = client.Post("/api/order/create",
                                      json{{"uid", uid}, {"pid", pid}, {"num", 1}}.dump(),
                                      "application/json");
      (!r ? other : r->status == 200 ? ok : r->status == 409 ? refused : other)++;
    });
  }
  go = true;
  for (auto& t : clients) t.join();
  CHECK(ok == 50);
  CHECK(refused == 150);
  CHECK(other == 0);

  json detail = Post(c, "/api/product/detail", {{"id", pid}}, &status);
  CHECK(detail["stock"] == 0);
  json orders = Post(c, "/api/order/list", {{"uid", uid}}, &status)["orders"];
  int valid = 0, invalid = 0;
  for (const json& o : orders) (o["status"] == kOrderCreated ? valid : invalid)++;
  CHECK(valid == 50);
  CHECK(invalid == 150);
  auto unfinished = node->coordinator()->List(0, "submitted", "", 1000);
  auto aborting = node->coordinator()->List(0, "aborting", "", 1000);
  CHECK(unfinished->empty());
  CHECK(aborting->empty());
  CHECK(node->coordinator()->List(0, "succeed", "", 1000)->size() == 50);
  CHECK(node->coordinator()->List(0, "failed", "", 1000)->size() == 150);
}

TEST_CASE("bad input to the mall API gets a clear 4xx and writes nothing") {
  const std::string dir = dtx::testing::NewTempDir("mall-bad");
  auto node = StartMall(dir);
  httplib::Client c("127.0.0.1", node->api_port());
  int status = 0;
  json user = Post(c, "/api/user/create", {{"name", "carol"}, {"mobile", "2"}}, &status);
  json product = Post(c, "/api/product/create",
                      {{"name", "pen"}, {"stock", 10}, {"amount", 3}}, &status);
  const int64_t uid = user["id"], pid = product["id"];
  auto expect = [&](const std::string& path, const std::string& body, int want,
                    const std::string& message) {
    httplib::Result r = c.Post(path.c_str(), body, "application/json");
    REQUIRE(r);
    INFO(path << " " << body << " -> " << r->status << " " << r->body);
    CHECK(r->status == want);
    CHECK(json::parse(r->body)["message"].get<std::string>().find(message) !=
          std::string::npos);
  };
  const std::string order = "/api/order/create";
  expect(order, "{nope", 400, "JSON object");
  expect(order, "[1,2]", 400, "JSON object");
  expect(order, json{{"uid", uid}, {"pid", pid}}.dump(), 400, "missing 'num'");
  expect(order, json{{"uid", uid}, {"pid", pid}, {"num", "1"}}.dump(), 400, "integer");
  expect(order, json{{"uid", uid}, {"pid", pid}, {"num", 1.5}}.dump(), 400, "integer");
  expect(order, json{{"uid", uid}, {"pid", pid}, {"num", 0}}.dump(), 400,
         "'num' must be in");
  expect(order, json{{"uid", uid}, {"pid", pid}, {"num", -3}}.dump(), 400,
         "'num' must be in");
  expect(order, json{{"uid", 999}, {"pid", pid}, {"num", 1}}.dump(), 404, "no user");
  expect(order, json{{"uid", uid}, {"pid", 999}, {"num", 1}}.dump(), 404, "no product");
  expect(order, std::string(100000, ' '), 413, "too large");
  expect("/api/product/create", json{{"name", "x"}, {"stock", -1}, {"amount", 1}}.dump(),
         400, "'stock' must be in");
  expect("/api/product/detail", json{{"id", 999}}.dump(), 404, "no product");
  expect("/api/user/create", json{{"name", "dup"}, {"mobile", "2"}}.dump(), 409, "taken");
  expect("/api/user/detail", json{{"id", "1"}}.dump(), 400, "integer");
  expect("/api/order/detail", json{{"gid", 5}}.dump(), 400, "string");
  // Nothing was written by the refused orders, and the service still works.
  json orders = Post(c, "/api/order/list", {{"uid", uid}}, &status)["orders"];
  CHECK(orders.empty());
  CHECK(node->coordinator()->List(0, "", "", 100)->empty());
  Post(c, order, {{"uid", uid}, {"pid", pid}, {"num", 2}}, &status);
  CHECK(status == 200);
  CHECK(Post(c, "/api/product/detail", {{"id", pid}}, &status)["stock"] == 8);
}

}  // namespace
}  // namespace mall
