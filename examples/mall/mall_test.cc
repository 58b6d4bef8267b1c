// The mall end to end over real gRPC and HTTP on 127.0.0.1: the demo (the seed's three
// order scenarios and three payments) with the embedded coordinator, through dtxd as a
// separate process, with DTM as the coordinator and with one process per service; 200
// concurrent orders against a stock of 50; concurrent payments of one order; bad input
// to the API.
#include <httplib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "demo.h"
#include "dtm_process.h"
#include "dtxd_process.h"
#include "mall_node.h"
#include "order/orders.h"
#include "pay/payments.h"
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

DemoOptions DemoOf(const MallNode& node) {
  return {.api_base = node.api_base(),
          .product_target = node.product_target(),
          .user_target = node.user_target(),
          .product_db = node.product_db(),
          .order_db = node.order_db(),
          .user_db = node.user_db()};
}

// Whether the coordinator whose HTTP API is on `port` lists the demo's transactions,
// each ended as the demo expects: 6 order sagas (2 rolled back), 4 payment TCCs (2
// rolled back) and 2 "paid" messages, all over gRPC. Waits up to 10 s for the last
// message to be marked done.
bool EndedAsTheDemo(int port) {
  const std::map<std::string, int> want = {{"saga succeed", 4}, {"saga failed", 2},
                                           {"tcc succeed", 2},  {"tcc failed", 2},
                                           {"msg succeed", 2},  {"protocol grpc", 12}};
  std::map<std::string, int> got;
  httplib::Client c("127.0.0.1", port);
  for (int i = 0; i < 100 && got != want; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    httplib::Result all = c.Get("/api/dtmsvr/all?limit=100");
    if (!all) continue;
    got.clear();
    const json list = json::parse(all->body);
    for (const json& t : list["transactions"]) {
      ++got[t["trans_type"].get<std::string>() + " " + t["status"].get<std::string>()];
      ++got["protocol " + t["protocol"].get<std::string>()];
    }
  }
  for (const auto& [what, n] : got) UNSCOPED_INFO(what << ": " << n);
  return got == want;
}

json Post(httplib::Client& c, const std::string& path, const json& body, int* status) {
  httplib::Result r = c.Post(path.c_str(), body.dump(), "application/json");
  REQUIRE(r);
  *status = r->status;
  return json::parse(r->body);
}

TEST_CASE("the demo, embedded coordinator") {
  const std::string dir = dtx::testing::NewTempDir("mall-embedded");
  auto node = StartMall(dir);
  CHECK(RunDemo(DemoOf(*node)) == 0);
}

TEST_CASE("the demo, through dtxd in its own process") {
  const std::string dir = dtx::testing::NewTempDir("mall-dtxd");
  dtx::testing::DtxdProcess dtxd(dir + "/dtxd.db");
  auto node = StartMall(dir, dtxd.grpc_target());
  CHECK(node->coordinator() == nullptr);
  CHECK(RunDemo(DemoOf(*node)) == 0);
  CHECK(EndedAsTheDemo(dtxd.http_port()));  // driven by dtxd
  node.reset();
  CHECK(dtxd.Terminate() == 0);
}

TEST_CASE("the demo, with the real DTM as the coordinator over gRPC") {
  // DTM (../shared/peers) takes the order sagas, the payments' TCCs and the "paid"
  // messages from GrpcSubmitter and calls the mall's gRPC branches, whose barriers see
  // DTM's metadata.
  const std::string dir = dtx::testing::NewTempDir("mall-dtm");
  dtx::testing::DtmProcess dtm(dir);
  auto node = StartMall(dir, dtm.grpc_target());
  CHECK(RunDemo(DemoOf(*node)) == 0);
  CHECK(EndedAsTheDemo(dtm.http_port()));  // driven by DTM
}

TEST_CASE("the demo, one process per service plus dtxd") {
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
  dtx::testing::ChildProcess pay({bin + "/mall_pay", "--db", dir + "/pay.db", "--user",
                                  target(user), "--order", target(order), "--dtxd",
                                  dtxd.grpc_target()});
  dtx::testing::ChildProcess api({bin + "/mall_api", "--user", target(user), "--product",
                                  target(product), "--order", target(order), "--pay",
                                  target(pay), "--dtxd", dtxd.grpc_target()});
  CHECK(RunDemo({.api_base = "http://127.0.0.1:" + std::to_string(api.port()),
                 .product_target = target(product),
                 .user_target = target(user),
                 .product_db = "sqlite://" + dir + "/product.db",
                 .order_db = "sqlite://" + dir + "/order.db",
                 .user_db = "sqlite://" + dir + "/user.db"}) == 0);
  CHECK(EndedAsTheDemo(dtxd.http_port()));
  for (auto* p : {&api, &pay, &order, &product, &user}) CHECK(p->Terminate() == 0);
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

TEST_CASE("eight clients paying one order at once: it is paid and charged once") {
  const std::string dir = dtx::testing::NewTempDir("mall-pay-race");
  auto node = StartMall(dir);
  httplib::Client c("127.0.0.1", node->api_port());
  int status = 0;
  json user = Post(c, "/api/user/create",
                   {{"name", "hal"}, {"mobile", "4"}, {"balance", 10000}}, &status);
  json product = Post(c, "/api/product/create",
                      {{"name", "lamp"}, {"stock", 5}, {"amount", 4999}}, &status);
  const int64_t uid = user["id"];
  json order = Post(c, "/api/order/create",
                    {{"uid", uid}, {"pid", product["id"]}, {"num", 1}}, &status);
  const int64_t oid = order["order"]["id"];

  std::atomic<int> paid{0}, in_flight{0}, other{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&] {
      httplib::Client client("127.0.0.1", node->api_port());
      client.set_read_timeout(std::chrono::seconds(30));
      while (!go) std::this_thread::yield();
      httplib::Result r =
          client.Post("/api/pay/create", json{{"oid", oid}}.dump(), "application/json");
      (!r ? other : r->status == 200 ? paid : r->status == 202 ? in_flight : other)++;
    });
  }
  go = true;
  for (auto& t : clients) t.join();
  CHECK(paid >= 1);
  CHECK(paid + in_flight == 8);
  CHECK(other == 0);
  // Asked again, every client hears the one payment.
  json again = Post(c, "/api/pay/create", {{"oid", oid}}, &status);
  CHECK(status == 200);
  CHECK(again["payment"]["status"] == kPaymentPaid);
  CHECK(Post(c, "/api/order/detail", {{"id", oid}}, &status)["status"] == kOrderPaid);
  json wallet = Post(c, "/api/user/detail", {{"id", uid}}, &status);
  CHECK(wallet["balance"] == 5001);
  CHECK(wallet["frozen"] == 0);
  // Once nothing is left to run: one TCC confirmed (a client that raced the first one
  // stored its TCC, found the payment taken and aborted it, with no branch); one "paid"
  // message delivered (another may have been aborted): 49 points, never 98.
  dtx::Coordinator& coordinator = *node->coordinator();
  (void)dtx::testing::Eventually(
      [&] {
        return coordinator.List(0, "prepared", "", 10)->empty() &&
               coordinator.List(0, "submitted", "", 10)->empty() &&
               coordinator.List(0, "aborting", "", 10)->empty();
      },
      absl::Seconds(10));
  CHECK(coordinator.List(0, "succeed", "tcc", 100)->size() == 1);
  CHECK(coordinator.List(0, "", "tcc", 100)->size() ==
        1 + coordinator.List(0, "failed", "tcc", 100)->size());
  CHECK(coordinator.List(0, "succeed", "msg", 100)->size() == 1);
  CHECK(coordinator.List(0, "", "msg", 100)->size() ==
        1 + coordinator.List(0, "failed", "msg", 100)->size());
  CHECK(Post(c, "/api/user/detail", {{"id", uid}}, &status)["points"] == 49);
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
  expect("/api/user/create", json{{"name", "x"}, {"mobile", "3"}, {"balance", -1}}.dump(),
         400, "'balance' must be in");
  expect("/api/pay/create", "{nope", 400, "JSON object");
  expect("/api/pay/create", json{{"oid", "1"}}.dump(), 400, "integer");
  expect("/api/pay/create", json{{"oid", 0}}.dump(), 400, "'oid' must be in");
  expect("/api/pay/create", json{{"oid", 999}}.dump(), 404, "no order 999");
  expect("/api/pay/detail", json{{"oid", 999}}.dump(), 404, "has no payment");
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
