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
#include "product.grpc.pb.h"

namespace mall {
namespace {

using nlohmann::json;

class Demo {
 public:
  explicit Demo(const DemoOptions& o)
      : options_(o),
        http_(o.api_base),
        products_(ProductService::NewStub(
            grpc::CreateChannel(o.product_target, grpc::InsecureChannelCredentials()))) {
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
    std::printf("\n%s (%d checks failed)\n",
                failures_ == 0 ? "mall demo: every outcome as expected"
                               : "mall demo: SOME OUTCOMES DIFFER",
                failures_);
    return failures_;
  }

 private:
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

  // The barrier rows of `gid` in a service's database, "branch op reason=..".
  // The barrier rows of `gid`'s branch `branch` (01: order.Create, 02:
  // product.DecrStock); several services may share one barrier table.
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
  int status_ = 0;
  int failures_ = 0;
};

}  // namespace

int RunDemo(const DemoOptions& options) { return Demo(options).Run(); }

}  // namespace mall
