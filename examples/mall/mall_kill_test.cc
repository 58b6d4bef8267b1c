// Kill tests of the mall, its databases and dtxd's store on the conformance backend:
//  - the coordinator (dtxd) is killed with SIGKILL at random moments while the mall
//    takes orders from several clients, and restarted, again and again. Afterwards:
//    every transaction finished; stock + units sold = initial stock; an order is valid
//    exactly when its stock was taken. Default size: 2000 orders, 20 kills (~7 s);
//    DTX_LARGE_TESTS=1: 10000 orders, 60 kills.
//  - the pay service (mall_pay, its own process) is killed the same way while clients
//    pay each order once. Then, with no client asking, the service settles what the
//    kills left in flight: no payment stays paying, an order is paid exactly when its
//    payment is, the wallet is charged exactly their sum with nothing left frozen, and
//    exactly one point per 100 cents is credited (each "paid" message delivered once).
//    Then the rest are paid again until paid, and the books balance for all of them.
//    Default: 300 orders, 12 kills; DTX_LARGE_TESTS=1: 1500 orders, 40 kills.
#include <grpcpp/grpcpp.h>
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
#include "pay.grpc.pb.h"
#include "pay/payments.h"
#include "test_util.h"
#include "user/users.h"

namespace mall {
namespace {

using nlohmann::json;

bool Large() {
  const char* v = std::getenv("DTX_LARGE_TESTS");
  return v != nullptr && std::string(v) == "1";
}

// A TCC or message left prepared by a killed pay service is settled after 1 s.
std::unique_ptr<dtx::testing::ChildProcess> StartDtxd(int grpc_port, int http_port) {
  return std::make_unique<dtx::testing::ChildProcess>(std::vector<std::string>{
      DTX_DTXD_BINARY, "--http-listen", "127.0.0.1:" + std::to_string(http_port),
      "--grpc-listen", "127.0.0.1:" + std::to_string(grpc_port), "--store",
      dtx::testing::ConformanceUrl(), "--lease", "1", "--poll-interval", "0.1",
      "--retry-interval", "0.2", "--max-backoff", "1", "--timeout-to-fail", "1"});
}

// Calls `kill_and_restart` after a random pause of `min_ms`..`max_ms` (from `seed`),
// again and again, until it was called `kills` times or `done()`; returns how often.
template <typename Done, typename KillAndRestart>
int KillAgainAndAgain(int kills, unsigned seed, int min_ms, int max_ms, Done done,
                      KillAndRestart kill_and_restart) {
  std::mt19937 rng(seed);
  int n = 0;
  for (; n < kills && !done(); ++n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::uniform_int_distribution<int>(min_ms, max_ms)(rng)));
    kill_and_restart();
  }
  return n;
}

// How many transactions dtxd (HTTP API on `port`) has not finished.
int Unfinished(int port) {
  httplib::Client admin("127.0.0.1", port);
  int n = 0;
  for (const char* status : {"prepared", "submitted", "aborting"}) {
    httplib::Result r =
        admin.Get((std::string("/api/dtmsvr/all?limit=1000&status=") + status).c_str());
    REQUIRE(r);
    n += static_cast<int>(json::parse(r->body)["transactions"].size());
  }
  return n;
}

// Waits up to 120 s for dtxd to finish every transaction.
void WaitUntilFinished(int port) {
  (void)dtx::testing::Eventually([&] { return Unfinished(port) == 0; },
                                 absl::Seconds(120));
  REQUIRE(Unfinished(port) == 0);
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
  dtx::testing::ReadDtxdPorts(*dtxd, &http_port, &grpc_port);
  MallNodeOptions options;
  options.dir = dir;
  options.dtxd_grpc = "127.0.0.1:" + std::to_string(grpc_port);
  options.user_db = options.product_db = options.order_db = db;
  auto started = MallNode::Start(options);
  REQUIRE(started.ok());
  std::unique_ptr<MallNode> node = *std::move(started);
  httplib::Client c("127.0.0.1", node->api_port());
  // The set-up's answers, checked: a refused one would make every order fail.
  auto create = [&](const std::string& path, const json& body) {
    httplib::Result r = c.Post(path.c_str(), body.dump(), "application/json");
    REQUIRE(r);
    INFO(path << " -> " << r->status << " " << r->body);
    REQUIRE(r->status == 200);
    return json::parse(r->body);
  };
  json user = create("/api/user/create", {{"name", "k"}, {"mobile", "7"}});
  json product =
      create("/api/product/create", {{"name", "p"}, {"stock", kStock}, {"amount", 1}});

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
  const int kills = KillAgainAndAgain(
      kKills, 7, 100, 500, [&] { return taken_in >= kOrders; },
      [&] {
        dtxd->Kill();
        dtxd = StartDtxd(grpc_port, http_port);
      });
  for (auto& t : clients) t.join();
  INFO("orders: " << ok << " ok, " << refused << " refused, " << pending
                  << " still running, " << unavailable
                  << " refused while the coordinator "
                  << "was down, " << other << " other; " << kills << " kills");
  CHECK(other == 0);
  CHECK(taken_in >= kOrders);
  CHECK(kills >= kKills / 2);

  // Every stored transaction ends.
  WaitUntilFinished(http_port);

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

TEST_CASE("the pay service killed again and again while it takes payments") {
  const int kOrders = Large() ? 1500 : 300;
  const int kKills = Large() ? 40 : 12;
  const std::string bin = MALL_BIN_DIR;
  dtx::testing::FreshStore().reset();
  const std::string db = dtx::testing::ConformanceUrl();
  testing::DropMallTables(db);

  auto dtxd = StartDtxd(0, 0);
  int http_port = 0, grpc_port = 0;
  dtx::testing::ReadDtxdPorts(*dtxd, &http_port, &grpc_port);
  dtx::testing::ChildProcess user_service({bin + "/mall_user", "--db", db});
  dtx::testing::ChildProcess order_service({bin + "/mall_order", "--db", db});
  const std::string user_target = "127.0.0.1:" + std::to_string(user_service.port());
  const std::string order_target = "127.0.0.1:" + std::to_string(order_service.port());
  auto start_pay = [&](int port) {
    return std::make_unique<dtx::testing::ChildProcess>(std::vector<std::string>{
        bin + "/mall_pay", "--listen", "127.0.0.1:" + std::to_string(port), "--db", db,
        "--user", user_target, "--order", order_target, "--dtxd",
        "127.0.0.1:" + std::to_string(grpc_port), "--settle-every", "0.2"});
  };
  auto pay = start_pay(0);
  const int pay_port = pay->port();

  // A rich user and kOrders orders of 100..1099 cents, written straight to the tables.
  auto users_db = Database::Open(db, kUserSchema);
  auto orders_db = Database::Open(db, kOrderSchema);
  REQUIRE(users_db.ok());
  REQUIRE(orders_db.ok());
  Users users(users_db->get());
  const int64_t kBalance = int64_t{1} << 40;
  absl::StatusOr<User> user = users.Create("payer", "5", kBalance);
  REQUIRE(user.ok());
  int64_t total = 0, points = 0;
  std::vector<int64_t> oids;
  Orders orders(orders_db->get());
  for (int i = 0; i < kOrders; ++i) {
    OrderCreateRequest r;
    r.set_uid(user->id());
    r.set_pid(1);
    r.set_num(1);
    r.set_amount(100 + (i * 37) % 1000);
    const std::string gid = "pay-kill-" + std::to_string(i);
    REQUIRE((*orders_db)
                ->Run([&](soci::session& tx) { return Orders::Create(tx, gid, r); })
                .ok());
    oids.push_back(orders.FindByGid(gid)->id());
    total += r.amount();
    points += r.amount() / 100;
  }

  // Pays order `i` once, or (with `until_paid`) until it answers paid; anything else
  // (the service was down, the payment is in flight or rolling back) is asked again
  // after a pause. Answers whether it was paid.
  std::atomic<int> asked_again{0};
  std::atomic<bool> gave_up{false};
  auto pay_order = [&](PayService::Stub& stub, int i, bool until_paid) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (true) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
      PayRequest r;
      r.set_oid(oids[i]);
      Payment p;
      if (stub.Create(&ctx, r, &p).ok() && p.status() == kPaymentPaid) return true;
      if (!until_paid) return false;
      ++asked_again;
      if (std::chrono::steady_clock::now() > deadline) {
        gave_up = true;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  };
  // Four clients take the orders in turn; returns when every order was taken. In the
  // first round order i waits for i * kKills / kOrders kills, so that payments are in
  // flight around every kill.
  std::atomic<int> kills{0};
  auto run_clients = [&](bool until_paid) {
    std::atomic<int> next{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t) {
      clients.emplace_back([&] {
        auto stub = PayService::NewStub(grpc::CreateChannel(
            "127.0.0.1:" + std::to_string(pay_port), grpc::InsecureChannelCredentials()));
        for (int i = next++; i < kOrders; i = next++) {
          while (!until_paid && i * kKills / kOrders > kills) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
          }
          pay_order(*stub, i, until_paid);
        }
      });
    }
    for (auto& t : clients) t.join();
  };

  // 1. Each order paid once, whatever it answers, while mall_pay is killed.
  std::thread first_round([&] { run_clients(false); });
  KillAgainAndAgain(
      kKills, 11, 50, 400, [] { return false; },
      [&] {
        pay->Kill();
        pay = start_pay(pay_port);
        ++kills;
      });
  first_round.join();

  // 2. With no client asking, the pay service settles every payment left in flight:
  // none stays paying, and each order is paid exactly when its payment is.
  auto payments_db = Database::Open(db, kPaySchema);
  REQUIRE(payments_db.ok());
  Payments payments(payments_db->get());
  (void)dtx::testing::Eventually(
      [&] { return Unfinished(http_port) == 0 && payments.ListPaying(1)->empty(); },
      absl::Seconds(120));
  REQUIRE(payments.ListPaying(1)->empty());
  WaitUntilFinished(http_port);
  int64_t paid_total = 0, paid_points = 0;
  int paid_first = 0;
  for (size_t i = 0; i < oids.size(); ++i) {
    const int64_t status = orders.FindById(oids[i])->status();
    absl::StatusOr<Payment> p = payments.FindByOrder(oids[i]);
    INFO("order " << oids[i] << " status " << status);
    if (status == kOrderPaid) {
      CHECK((p.ok() && p->status() == kPaymentPaid));
      paid_total += p->amount();
      paid_points += p->amount() / 100;
      ++paid_first;
    } else {
      CHECK(status == kOrderCreated);
      CHECK((!p.ok() || p->status() == kPaymentFailed));
    }
  }
  absl::StatusOr<User> settled = users.Find(user->id());
  REQUIRE(settled.ok());
  CHECK(settled->balance() == kBalance - paid_total);
  CHECK(settled->frozen() == 0);
  CHECK(settled->points() == paid_points);

  // 3. The rest paid again until paid.
  run_clients(true);
  INFO(kills.load() << " kills; " << paid_first
                    << " paid in the first round; payments asked "
                    << "again " << asked_again << " times");
  REQUIRE_FALSE(gave_up);

  // Every TCC and message ends; then the books balance, exactly.
  WaitUntilFinished(http_port);
  httplib::Client admin("127.0.0.1", http_port);
  auto count = [&](const std::string& type, const std::string& status) {
    httplib::Result r = admin.Get(
        ("/api/dtmsvr/all?limit=1000&transType=" + type + "&status=" + status).c_str());
    REQUIRE(r);
    return json::parse(r->body)["transactions"].size();
  };
  // What the kills interrupted (varies from run to run).
  WARN("TCCs: " << count("tcc", "succeed") << " confirmed, " << count("tcc", "failed")
                << " rolled back; messages: " << count("msg", "succeed") << " delivered, "
                << count("msg", "failed") << " ruled out by the back-check or aborted");
  for (int64_t oid : oids) {
    INFO("order " << oid);
    CHECK(orders.FindById(oid)->status() == kOrderPaid);
  }
  absl::StatusOr<User> after = users.Find(user->id());
  REQUIRE(after.ok());
  CHECK(after->balance() == kBalance - total);
  CHECK(after->frozen() == 0);
  CHECK(after->points() == points);
  CHECK(pay->Terminate() == 0);
  CHECK(order_service.Terminate() == 0);
  CHECK(user_service.Terminate() == 0);
  CHECK(dtxd->Terminate() == 0);
}

}  // namespace
}  // namespace mall
