// dtx::Tcc and dtx::Msg end to end: branch services with barriers on a real SQLite
// file, driven by the embedded Coordinator, and by dtxd over HTTP and over gRPC.
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/match.h"
#include "dtx/coordinator.h"
#include "dtx/gid.h"
#include "dtx/grpc/grpc_submitter.h"
#include "dtx/http/http_branch.h"
#include "dtx/http/http_submitter.h"
#include "dtx/http/http_transport.h"
#include "dtx/msg.h"
#include "dtx/result.h"
#include "dtx/soci/barrier.h"
#include "dtx/soci/do_and_submit.h"
#include "dtx/soci/soci_store.h"
#include "dtx/tcc.h"
#include "dtxd_process.h"
#include "test_util.h"

namespace dtx {
namespace {

using testing::DtxdProcess;
using testing::Eventually;

// A bank and a loyalty scheme in one SQLite file, every handler behind its barrier.
// TCC transfer: TransOut try freezes the amount (FAILURE when the balance is short),
// confirm takes it, cancel releases it; TransIn confirm credits it. The message
// credits points; its back-check asks the barrier.
class Bank {
 public:
  explicit Bank(const std::string& dir) : db_(dir + "/bank.db") {
    auto sql = Open();
    *sql << "CREATE TABLE account (id INT PRIMARY KEY, balance INT, frozen INT)";
    *sql << "INSERT INTO account VALUES (1, 100, 0)";
    *sql << "INSERT INTO account VALUES (2, 0, 0)";
    *sql << "CREATE TABLE orders (gid TEXT PRIMARY KEY)";
    *sql << "CREATE TABLE points (id INT PRIMARY KEY, points INT)";
    *sql << "INSERT INTO points VALUES (1, 0)";
    REQUIRE(Barrier::CreateTable(*sql).ok());
    Serve("/TransOutTry", [](soci::session& tx, int a) -> absl::Status {
      soci::statement st = (tx.prepare << "UPDATE account SET balance = balance - :a1, "
                                          "frozen = frozen + :a2 WHERE id = 1 AND "
                                          "balance >= :a3",
                            soci::use(a), soci::use(a), soci::use(a));
      st.execute(true);
      if (st.get_affected_rows() == 0) return FailureError("insufficient balance");
      return absl::OkStatus();
    });
    Serve("/TransOutConfirm", [](soci::session& tx, int a) {
      tx << "UPDATE account SET frozen = frozen - :a WHERE id = 1", soci::use(a);
      return absl::OkStatus();
    });
    Serve("/TransOutCancel", [](soci::session& tx, int a) {
      tx << "UPDATE account SET balance = balance + :a1, frozen = frozen - :a2 WHERE id = 1",
          soci::use(a), soci::use(a);
      return absl::OkStatus();
    });
    Serve("/TransInTry", [](soci::session&, int) { return absl::OkStatus(); });
    Serve("/TransInConfirm", [](soci::session& tx, int a) {
      tx << "UPDATE account SET balance = balance + :a WHERE id = 2", soci::use(a);
      return absl::OkStatus();
    });
    Serve("/TransInCancel", [](soci::session&, int) { return absl::OkStatus(); });
    Serve("/Credit", [](soci::session& tx, int a) {
      tx << "UPDATE points SET points = points + :a WHERE id = 1", soci::use(a);
      return absl::OkStatus();
    });
    server_.Get("/QueryPrepared", [this](const dtx::HttpRequest& req, HttpResponse& res) {
      absl::StatusOr<BranchInfo> info = BranchInfoFromRequest(req);
      if (!info.ok()) return WriteResult(info.status(), res);
      auto sql = Open();
      WriteResult(Barrier(*info).QueryPrepared(*sql), res);
    });
    base_ = "http://127.0.0.1:" + std::to_string(server_.Start().value());
  }

  std::unique_ptr<soci::session> Open() {
    return std::make_unique<soci::session>(soci::sqlite3, "db=" + db_ + " timeout=10");
  }
  std::string Url(const std::string& path) const { return base_ + path; }

  int Int(const std::string& query) {
    int v = -1;
    *Open() << query, soci::into(v);
    return v;
  }
  int Balance(int id) { return Int("SELECT balance FROM account WHERE id = " + std::to_string(id)); }
  int Frozen() { return Int("SELECT frozen FROM account WHERE id = 1"); }
  int Points() { return Int("SELECT points FROM points WHERE id = 1"); }
  bool HasOrder(const std::string& gid) {
    return Int("SELECT COUNT(*) FROM orders WHERE gid = '" + gid + "'") == 1;
  }

 private:
  void Serve(const std::string& path, std::function<absl::Status(soci::session&, int)> f) {
    server_.Handle(path, [this, f](const BranchInfo& info, const dtx::HttpRequest& req) {
      const int amount = nlohmann::json::parse(req.body).value("amount", 0);
      auto sql = Open();
      return Barrier(info).Call(*sql, [&](soci::session& tx) { return f(tx, amount); });
    });
  }

  std::string db_;
  HttpBranchServer server_;
  std::string base_;
};

TEST_CASE("Tcc and Msg with barrier branches: embedded, and dtxd over HTTP and gRPC") {
  const std::string dir = testing::NewTempDir("tcc-msg");
  Bank bank(dir);
  HttpTransport transport;

  // The embedded coordinator, on a SQLite store of its own.
  absl::StatusOr<std::unique_ptr<SociStore>> store =
      SociStore::Open({.url = "sqlite://" + dir + "/coordinator.db"});
  REQUIRE(store.ok());
  CoordinatorOptions options;
  options.store = store->get();
  options.transports = {{"http", &transport}};
  options.poll_interval = absl::Milliseconds(100);
  absl::StatusOr<std::unique_ptr<Coordinator>> embedded = Coordinator::Start(options);
  REQUIRE(embedded.ok());

  DtxdProcess dtxd(dir + "/dtxd.db", {"--poll-interval", "0.1"});
  HttpSubmitter http({.server = dtxd.http_base()});
  GrpcSubmitterOptions grpc_options;
  grpc_options.target = dtxd.grpc_target();
  GrpcSubmitter grpc(grpc_options);

  GidGenerator gids;
  int moved = 0, points = 0;
  for (auto [name, submitter] : {std::pair<const char*, Submitter*>{"embedded", embedded->get()},
                                 {"http", &http},
                                 {"grpc", &grpc}}) {
    INFO(name);
    auto transfer = [&](const std::string& gid, int amount) {
      const std::string body = nlohmann::json{{"amount", amount}}.dump();
      return Tcc(submitter, &transport, gid).WaitResult(true).Run([&](Tcc& t) {
        absl::Status out = t.CallBranch(body, bank.Url("/TransOutTry"),
                                        bank.Url("/TransOutConfirm"),
                                        bank.Url("/TransOutCancel"));
        if (!out.ok()) return out;
        return t.CallBranch(body, bank.Url("/TransInTry"), bank.Url("/TransInConfirm"),
                            bank.Url("/TransInCancel"));
      });
    };
    // A transfer that succeeds: both confirms ran before Run returned.
    const std::string ok_gid = gids.Next();
    REQUIRE(transfer(ok_gid, 30).ok());
    moved += 30;
    CHECK(bank.Balance(1) == 100 - moved);
    CHECK(bank.Balance(2) == moved);
    CHECK(bank.Frozen() == 0);
    absl::StatusOr<TransactionState> state = submitter->Query(ok_gid);
    REQUIRE(state.ok());
    CHECK(state->global.status == "succeed");
    CHECK(state->branches.size() == 4);

    // One refused for the balance: the try's FAILURE, the cancels restore everything.
    const std::string no_gid = gids.Next();
    absl::Status refused = transfer(no_gid, 1000);
    CHECK(IsFailure(refused));
    CHECK(absl::StrContains(refused.message(), "insufficient balance"));
    CHECK(Eventually([&] { return submitter->Query(no_gid)->global.status == "failed"; }));
    CHECK(bank.Balance(1) == 100 - moved);
    CHECK(bank.Frozen() == 0);
    CHECK(absl::IsNotFound(submitter->Query(gids.Next()).status()));

    // A message as the outbox of a local transaction.
    auto order = [&](const std::string& gid, absl::Status business_answer) {
      Msg msg(submitter, gid);
      msg.Add(bank.Url("/Credit"), R"({"amount":5})").WaitResult(true);
      auto sql = bank.Open();
      return DoAndSubmit(msg, bank.Url("/QueryPrepared"), *sql,
                         [&](soci::session& tx) {
                           tx << "INSERT INTO orders (gid) VALUES (:g)", soci::use(gid);
                           return business_answer;
                         });
    };
    const std::string paid = gids.Next();
    REQUIRE(order(paid, absl::OkStatus()).ok());
    points += 5;
    CHECK(bank.HasOrder(paid));
    CHECK(bank.Points() == points);
    const std::string refused_order = gids.Next();
    CHECK(IsFailure(order(refused_order, FailureError("out of stock"))));
    CHECK(!bank.HasOrder(refused_order));
    CHECK(submitter->Query(refused_order)->global.status == "failed");
    CHECK(bank.Points() == points);

    // The process "dies" between the local commit and the submit: the back-check,
    // after timeout_to_fail, finds the commit and the message is delivered.
    const std::string orphan = gids.Next();
    {
      Msg msg(submitter, orphan);
      msg.Add(bank.Url("/Credit"), R"({"amount":7})").TimeoutToFail(absl::Seconds(1));
      REQUIRE(msg.Prepare(bank.Url("/QueryPrepared")).ok());
      auto sql = bank.Open();
      BranchInfo info{"msg", orphan, "00", "msg"};
      REQUIRE(Barrier(info).Call(*sql, [&](soci::session& tx) {
                tx << "INSERT INTO orders (gid) VALUES (:g)", soci::use(orphan);
                return absl::OkStatus();
              }).ok());
    }
    points += 7;
    CHECK(Eventually([&] { return bank.Points() == points; }));
    CHECK(Eventually([&] { return submitter->Query(orphan)->global.status == "succeed"; }));
    // It dies before the commit: the back-check rules the business out, the message
    // fails, and a late local transaction is refused.
    const std::string lost = gids.Next();
    {
      Msg msg(submitter, lost);
      msg.Add(bank.Url("/Credit"), R"({"amount":100})").TimeoutToFail(absl::Seconds(1));
      REQUIRE(msg.Prepare(bank.Url("/QueryPrepared")).ok());
    }
    CHECK(Eventually([&] { return submitter->Query(lost)->global.status == "failed"; }));
    auto sql = bank.Open();
    CHECK(absl::IsAlreadyExists(
        Barrier(BranchInfo{"msg", lost, "00", "msg"}).Call(*sql, [](soci::session&) {
          return absl::OkStatus();
        })));
    CHECK(bank.Points() == points);
  }
  CHECK(dtxd.Terminate() == 0);
}

}  // namespace
}  // namespace dtx
