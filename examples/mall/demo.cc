#include "demo.h"

#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <soci/soci.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "absl/time/clock.h"
#include "dtx/soci/barrier.h"
#include "dtx/soci/storage_url.h"
#include "order/orders.h"
#include "pay/payments.h"
#include "product.grpc.pb.h"
#include "user.grpc.pb.h"

namespace mall {
namespace {

using nlohmann::json;

class Demo {
 public:
  explicit Demo(const DemoOptions& o)
      : options_(o),
        http_(o.api_base),
        products_(ProductService::NewStub(
            grpc::CreateChannel(o.product_target, grpc::InsecureChannelCredentials()))),
        users_(UserService::NewStub(
            grpc::CreateChannel(o.user_target, grpc::InsecureChannelCredentials()))) {
    http_.set_read_timeout(std::chrono::seconds(30));
  }

  int Run() {
    // A new mobile each run: the demo may run again on the same database.
    const std::string mobile =
        "138" + std::to_string(absl::ToUnixMicros(absl::Now()) % 100000000);
    json user = Call("/api/user/create", {{"name", "alice"}, {"mobile", mobile}});
    const int64_t uid = user.value("id", 0);
    json product = Call(
        "/api/product/create",
        {{"name", "keyboard"}, {"desc", "mechanical"}, {"stock", 1}, {"amount", 4999}});
    const int64_t pid = product.value("id", 0);
    Check(uid > 0 && pid > 0, "user and product created");

    std::printf("\n1. product %lld has stock 1; order 1 unit\n",
                static_cast<long long>(pid));
    json first = Call("/api/order/create", {{"uid", uid}, {"pid", pid}, {"num", 1}});
    Check(status_ == 200, "the order succeeded (HTTP 200)");
    Check(OrderStatus(first) == kOrderCreated, "the order has status 0");
    Check(Stock(pid) == 0, "stock is 0");

    std::printf("\n2. order 1 more unit: insufficient stock\n");
    json second = Call("/api/order/create", {{"uid", uid}, {"pid", pid}, {"num", 1}});
    const std::string gid2 = second.value("gid", "");
    Check(status_ == 409, "the saga was rolled back (HTTP 409)");
    Check(OrderStatus(second) == kOrderInvalid, "the order exists with status 9");
    Check(Stock(pid) == 0, "stock is still 0");
    auto product_rows = Barrier(options_.product_db, gid2, "02");
    auto order_rows = Barrier(options_.order_db, gid2, "01");
    PrintBarrier("product", product_rows);
    PrintBarrier("order", order_rows);
    Check(product_rows == std::vector<std::string>{"02 action reason=compensate",
                                                   "02 compensate reason=compensate"},
          "DecrStock's compensation was a null compensation (its action's row is the "
          "compensation's)");
    Check(order_rows == std::vector<std::string>{"01 action reason=action",
                                                 "01 compensate reason=compensate"},
          "CreateRevert ran after Create");

    std::printf("\n3. stock set to 100; DecrStock fails after its barrier committed\n");
    Call("/api/product/update", {{"id", pid}, {"stock", 100}});
    SetFault(true);
    json third = Call("/api/order/create", {{"uid", uid}, {"pid", pid}, {"num", 1}});
    SetFault(false);
    const std::string gid3 = third.value("gid", "");
    Check(status_ == 409, "the saga was rolled back (HTTP 409)");
    Check(OrderStatus(third) == kOrderInvalid, "the order has status 9");
    Check(Stock(pid) == 100, "stock is back at 100");
    product_rows = Barrier(options_.product_db, gid3, "02");
    order_rows = Barrier(options_.order_db, gid3, "01");
    PrintBarrier("product", product_rows);
    PrintBarrier("order", order_rows);
    Check(product_rows == std::vector<std::string>{"02 action reason=action",
                                                   "02 compensate reason=compensate"},
          "DecrStock ran, then DecrStockRevert gave the stock back");
    Check(order_rows == std::vector<std::string>{"01 action reason=action",
                                                 "01 compensate reason=compensate"},
          "CreateRevert ran after Create");

    json list = Call("/api/order/list", {{"uid", uid}});
    std::printf("\norders of user %lld:\n", static_cast<long long>(uid));
    for (const json& o : list.value("orders", json::array())) {
      std::printf("  order %lld gid %s num %lld amount %lld status %lld\n",
                  o.value("id", 0LL), o.value("gid", "").c_str(), o.value("num", 0LL),
                  o.value("amount", 0LL), o.value("status", 0LL));
    }
    Check(list.value("orders", json::array()).size() == 3, "the user has 3 orders");

    Payments(mobile, pid);
    std::printf("\n%s (%d checks failed)\n",
                failures_ == 0 ? "mall demo: every outcome as expected"
                               : "mall demo: SOME OUTCOMES DIFFER",
                failures_);
    return failures_;
  }

 private:
  // Scenarios 4 to 6; `pid` is the keyboard (4999), in stock.
  void Payments(const std::string& mobile, int64_t pid) {
    std::printf(
        "\n4. bob has 6000 in his wallet; he orders the keyboard (4999) and pays\n");
    json bob = Call("/api/user/create",
                    {{"name", "bob"}, {"mobile", mobile + "9"}, {"balance", 6000}});
    const int64_t uid = bob.value("id", 0LL);
    const int64_t first =
        OrderId(Call("/api/order/create", {{"uid", uid}, {"pid", pid}, {"num", 1}}));
    json paid = Call("/api/pay/create", {{"oid", first}});
    Check(status_ == 200, "the payment succeeded (HTTP 200)");
    Check(PaymentStatus(paid) == kPaymentPaid, "the payment is paid");
    Check(OrderStatusById(first) == kOrderPaid, "the order is paid (status 2)");
    Check(Wallet(uid) == "balance 1001 frozen 0",
          "the wallet has 1001 left, none frozen");
    Check(Eventually([&] { return Points(uid) == 49; }),
          "the \"paid\" message credited 49 points");
    json again = Call("/api/pay/create", {{"oid", first}});
    Check(status_ == 200 && again == paid, "paying again answers the same payment");
    Check(Wallet(uid) == "balance 1001 frozen 0" && Points(uid) == 49,
          "and takes nothing more");

    std::printf("\n5. bob orders another keyboard: 1001 is not enough\n");
    const int64_t second =
        OrderId(Call("/api/order/create", {{"uid", uid}, {"pid", pid}, {"num", 1}}));
    json refused = Call("/api/pay/create", {{"oid", second}});
    const std::string gid5 = refused.value("payment", json::object()).value("gid", "");
    Check(status_ == 409, "the payment was refused and rolled back (HTTP 409)");
    Check(refused.value("message", "").find("insufficient balance") != std::string::npos,
          "for insufficient balance");
    Check(Eventually([&] { return OrderStatusById(second) == kOrderCreated; }),
          "the order's cancel put it back to created (status 0)");
    Check(Wallet(uid) == "balance 1001 frozen 0", "the wallet is as it was");
    auto order_rows = Barrier(options_.order_db, gid5, "01");
    auto user_rows = Barrier(options_.user_db, gid5, "02");
    PrintBarrier("order", order_rows);
    PrintBarrier("user", user_rows);
    Check(order_rows ==
              std::vector<std::string>{"01 cancel reason=cancel", "01 try reason=try"},
          "the order's try ran, then its cancel");
    Check(user_rows ==
              std::vector<std::string>{"02 cancel reason=cancel", "02 try reason=cancel"},
          "the wallet's cancel was a null compensation (its try had rolled back)");

    std::printf("\n6. bob orders a pen (300); the wallet's try is held up on the way\n");
    json pen = Call("/api/product/create",
                    {{"name", "pen"}, {"desc", "blue"}, {"stock", 10}, {"amount", 300}});
    const int64_t third = OrderId(Call(
        "/api/order/create", {{"uid", uid}, {"pid", pen.value("id", 0LL)}, {"num", 1}}));
    const int64_t held_before = HoldNextTry(true);
    json late = Call("/api/pay/create", {{"oid", third}});
    const std::string gid6 = late.value("payment", json::object()).value("gid", "");
    Check(status_ == 409, "the try did not answer in time: rolled back (HTTP 409)");
    Check(Eventually([&] { return HoldNextTry(false) == held_before + 1; }),
          "the held try arrived after its cancel and finished");
    Check(Eventually([&] { return OrderStatusById(third) == kOrderCreated; }),
          "the order is back to created (status 0)");
    Check(Wallet(uid) == "balance 1001 frozen 0", "the late try froze nothing");
    user_rows = Barrier(options_.user_db, gid6, "02");
    PrintBarrier("user", user_rows);
    Check(user_rows ==
              std::vector<std::string>{"02 cancel reason=cancel", "02 try reason=cancel"},
          "the cancel had taken the try's place in the barrier, so the try was skipped");
    json retried = Call("/api/pay/create", {{"oid", third}});
    Check(status_ == 200 && PaymentStatus(retried) == kPaymentPaid,
          "paid again, the pen's payment succeeds");
    Check(Wallet(uid) == "balance 701 frozen 0", "the wallet has 701 left");
    Check(Eventually([&] { return Points(uid) == 52; }), "and bob has 52 points");
  }

  static int64_t OrderId(const json& answer) {
    return answer.value("order", json::object()).value("id", 0LL);
  }
  static int64_t PaymentStatus(const json& answer) {
    return answer.value("payment", json::object()).value("status", -1LL);
  }
  int64_t OrderStatusById(int64_t oid) {
    return Call("/api/order/detail", {{"id", oid}}).value("status", -1LL);
  }
  std::string Wallet(int64_t uid) {
    json user = Call("/api/user/detail", {{"id", uid}});
    return "balance " + std::to_string(user.value("balance", -1LL)) + " frozen " +
           std::to_string(user.value("frozen", -1LL));
  }
  int64_t Points(int64_t uid) {
    return Call("/api/user/detail", {{"id", uid}}).value("points", -1LL);
  }

  // Whether `done` holds within 10 s. A coordinator may answer an abort before the
  // cancels ran (DTM does), and the "paid" message is delivered after the payment's
  // answer.
  template <typename Done>
  bool Eventually(Done done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!done()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return true;
  }

  // Arms (or disarms) the user service's switch that holds the next wallet try until
  // its cancel ran; returns how many held tries have finished, -1 on error.
  int64_t HoldNextTry(bool on) {
    grpc::ClientContext ctx;
    UserFaultRequest r;
    r.set_hold_next_try_until_cancel(on);
    UserFaultState state;
    grpc::Status s = users_->SetFault(&ctx, r, &state);
    if (on) std::printf("  hold switch on: %s\n", s.ok() ? "ok" : "FAILED");
    return s.ok() ? state.held_tries_finished() : -1;
  }

  json Call(const std::string& path, const json& body) {
    httplib::Result r = http_.Post(path.c_str(), body.dump(), "application/json");
    status_ = r ? r->status : -1;
    json out = r ? json::parse(r->body, nullptr, false) : json();
    std::printf("  POST %s %s -> %d %s\n", path.c_str(), body.dump().c_str(), status_,
                r ? r->body.c_str() : httplib::to_string(r.error()).c_str());
    return out.is_object() ? out : json::object();
  }

  // The status of the order in an /api/order/create answer, -1 when there is none.
  static int64_t OrderStatus(const json& answer) {
    auto it = answer.find("order");
    if (it == answer.end() || !it->is_object()) return -1;
    return it->value("status", -1LL);
  }

  int64_t Stock(int64_t pid) {
    json p = Call("/api/product/detail", {{"id", pid}});
    return p.value("stock", -1LL);
  }

  void SetFault(bool on) {
    grpc::ClientContext ctx;
    FaultRequest r;
    r.set_fail_decr_stock_after_commit(on);
    Empty reply;
    grpc::Status s = products_->SetFault(&ctx, r, &reply);
    std::printf("  fault switch %s: %s\n", on ? "on" : "off", s.ok() ? "ok" : "FAILED");
  }

  // The barrier rows of `gid`'s branch `branch_id` in a service's database, as
  // "branch op reason=.." (several services may share one barrier table).
  std::vector<std::string> Barrier(const std::string& db_url, const std::string& gid,
                                   const std::string& branch_id) {
    std::vector<std::string> rows;
    try {
      soci::session sql;
      if (absl::Status s = dtx::OpenSession(sql, db_url); !s.ok()) {
        return {std::string(s.message())};
      }
      absl::StatusOr<std::string> found = dtx::Barrier::TableName(sql);
      if (!found.ok()) return {std::string(found.status().message())};
      const std::string table = *found;
      std::string branch, op, reason;
      soci::statement st =
          (sql.prepare << "SELECT branch_id, op, reason FROM " + table +
                              " WHERE gid = :g AND branch_id = :b ORDER BY op, id",
           soci::use(gid), soci::use(branch_id), soci::into(branch), soci::into(op),
           soci::into(reason));
      st.execute();
      while (st.fetch()) rows.push_back(branch + " " + op + " reason=" + reason);
    } catch (const std::exception& e) {
      rows.push_back(std::string("error: ") + e.what());
    }
    return rows;
  }

  void PrintBarrier(const char* service, const std::vector<std::string>& rows) {
    std::printf("  %s barrier rows:", service);
    for (const std::string& r : rows) std::printf(" [%s]", r.c_str());
    std::printf("\n");
  }

  void Check(bool ok, const std::string& what) {
    std::printf("  %s %s\n", ok ? "ok:  " : "FAIL:", what.c_str());
    if (!ok) ++failures_;
  }

  DemoOptions options_;
  httplib::Client http_;
  std::unique_ptr<ProductService::Stub> products_;
  std::unique_ptr<UserService::Stub> users_;
  int status_ = 0;
  int failures_ = 0;
};

}  // namespace

int RunDemo(const DemoOptions& options) { return Demo(options).Run(); }

}  // namespace mall
