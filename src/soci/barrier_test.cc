// The barrier against a real SQLite file: duplicate requests, null compensation,
// hanging, rollback on business errors, and concurrent deliveries.
#include "dtx/soci/barrier.h"

#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "dtx/result.h"
#include "test_util.h"

namespace dtx {
namespace {

class BarrierDb {
 public:
  BarrierDb() : path_(testing::NewTempDir("barrier") + "/branch.db") {
    auto sql_ptr = Open();
    soci::session& sql = *sql_ptr;
    REQUIRE(Barrier::CreateTable(sql).ok());
    sql << "CREATE TABLE account (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)";
    sql << "INSERT INTO account (id, balance) VALUES (1, 100)";
  }

  std::unique_ptr<soci::session> Open() const {
    auto sql =
        std::make_unique<soci::session>(soci::sqlite3, "db=" + path_ + " timeout=30");
    *sql << "PRAGMA journal_mode=WAL";
    return sql;
  }

  int Balance() const {
    auto sql_ptr = Open();
    soci::session& sql = *sql_ptr;
    int balance = 0;
    sql << "SELECT balance FROM account WHERE id = 1", soci::into(balance);
    return balance;
  }

  int BarrierRows(const std::string& gid) const {
    auto sql_ptr = Open();
    soci::session& sql = *sql_ptr;
    int n = 0;
    sql << "SELECT COUNT(*) FROM barrier WHERE gid = :gid", soci::use(gid), soci::into(n);
    return n;
  }

 private:
  std::string path_;
};

BranchInfo Info(const std::string& gid, const std::string& op) {
  return BranchInfo{.trans_type = "saga", .gid = gid, .branch_id = "01", .op = op};
}

// A handler: moves `delta` and counts its business runs.
absl::Status Apply(const BarrierDb& db, const BranchInfo& info, int delta,
                   std::atomic<int>* runs, absl::Status result = absl::OkStatus()) {
  auto sql_ptr = db.Open();
  soci::session& sql = *sql_ptr;
  return Barrier(info).Call(sql, [&](soci::session& tx) {
    ++*runs;
    tx << "UPDATE account SET balance = balance + :d WHERE id = 1", soci::use(delta);
    return result;
  });
}

TEST_CASE("a duplicate action runs the business once") {
  BarrierDb db;
  std::atomic<int> runs{0};
  CHECK(Apply(db, Info("dup-a", "action"), -10, &runs).ok());
  CHECK(Apply(db, Info("dup-a", "action"), -10, &runs).ok());
  CHECK(runs == 1);
  CHECK(db.Balance() == 90);
}

TEST_CASE("a duplicate compensation runs the business once") {
  BarrierDb db;
  std::atomic<int> action{0}, compensate{0};
  CHECK(Apply(db, Info("dup-c", "action"), -10, &action).ok());
  CHECK(Apply(db, Info("dup-c", "compensate"), +10, &compensate).ok());
  CHECK(Apply(db, Info("dup-c", "compensate"), +10, &compensate).ok());
  CHECK(action == 1);
  CHECK(compensate == 1);
  CHECK(db.Balance() == 100);
}

TEST_CASE("a null compensation does nothing") {
  BarrierDb db;
  std::atomic<int> runs{0};
  CHECK(Apply(db, Info("null-1", "compensate"), +10, &runs).ok());
  CHECK(runs == 0);
  CHECK(db.Balance() == 100);
  CHECK(db.BarrierRows("null-1") ==
        2);  // the action's row (reason compensate) and its own
}

TEST_CASE("an action arriving after its compensation (hanging) does not run") {
  BarrierDb db;
  std::atomic<int> action{0}, compensate{0};
  CHECK(Apply(db, Info("hang-1", "compensate"), +10, &compensate).ok());
  absl::Status late = Apply(db, Info("hang-1", "action"), -10, &action);
  CHECK(late.ok());  // answers SUCCESS so the coordinator does not retry it
  CHECK(action == 0);
  CHECK(compensate == 0);
  CHECK(db.Balance() == 100);
}

TEST_CASE("a business error rolls back the barrier rows too") {
  BarrierDb db;
  std::atomic<int> runs{0};
  absl::Status refused =
      Apply(db, Info("err-1", "action"), -10, &runs, FailureError("no"));
  CHECK(IsFailure(refused));
  CHECK(db.Balance() == 100);  // the business's own write was rolled back
  CHECK(db.BarrierRows("err-1") == 0);
  // So a retry runs the business again...
  CHECK(Apply(db, Info("err-1", "action"), -10, &runs).ok());
  CHECK(runs == 2);
  CHECK(db.Balance() == 90);
  // ... and a compensation after a refused action is a null compensation.
  std::atomic<int> comp{0};
  CHECK(IsFailure(Apply(db, Info("err-2", "action"), -10, &runs, FailureError("no"))));
  CHECK(Apply(db, Info("err-2", "compensate"), +10, &comp).ok());
  CHECK(comp == 0);
  CHECK(db.Balance() == 90);
}

TEST_CASE("an exception in the business is a database error and rolls back") {
  BarrierDb db;
  auto sql_ptr = db.Open();
  soci::session& sql = *sql_ptr;
  absl::Status s = Barrier(Info("throw-1", "action")).Call(sql, [](soci::session& tx) {
    tx << "UPDATE account SET balance = 0 WHERE id = 1";
    tx << "SELECT * FROM no_such_table";
    return absl::OkStatus();
  });
  CHECK(absl::IsUnavailable(s));
  CHECK(db.Balance() == 100);
  CHECK(db.BarrierRows("throw-1") == 0);
}

TEST_CASE("8 threads delivering the same op at once run the business exactly once") {
  BarrierDb db;
  for (const char* op : {"action", "compensate"}) {
    std::atomic<int> runs{0}, ok{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        while (!go) std::this_thread::yield();
        if (Apply(db, Info("race-1", op), std::string(op) == "action" ? -10 : 10, &runs)
                .ok()) {
          ++ok;
        }
      });
    }
    go = true;
    for (auto& t : threads) t.join();
    CHECK(runs == 1);
    CHECK(ok == 8);
  }
  CHECK(db.Balance() == 100);
}

TEST_CASE("several barrier calls in one handler get their own barrier ids") {
  BarrierDb db;
  auto sql_ptr = db.Open();
  soci::session& sql = *sql_ptr;
  Barrier barrier(Info("multi-1", "action"));
  int runs = 0;
  auto business = [&](soci::session&) {
    ++runs;
    return absl::OkStatus();
  };
  CHECK(barrier.Call(sql, business).ok());
  CHECK(barrier.Call(sql, business).ok());
  CHECK(runs == 2);
  std::string first, second;
  sql << "SELECT barrier_id FROM barrier WHERE gid = 'multi-1' ORDER BY id LIMIT 1",
      soci::into(first);
  sql << "SELECT barrier_id FROM barrier WHERE gid = 'multi-1' ORDER BY id DESC LIMIT 1",
      soci::into(second);
  CHECK(first == "01");
  CHECK(second == "02");
}

TEST_CASE("the barrier table name is configurable and checked") {
  BarrierDb db;
  auto sql_ptr = db.Open();
  soci::session& sql = *sql_ptr;
  BarrierOptions custom{.table = "my_barrier"};
  REQUIRE(Barrier::CreateTable(sql, custom).ok());
  int runs = 0;
  CHECK(Barrier(Info("named-1", "action"), custom)
            .Call(sql,
                  [&](soci::session&) {
                    ++runs;
                    return absl::OkStatus();
                  })
            .ok());
  int rows = 0;
  sql << "SELECT COUNT(*) FROM my_barrier", soci::into(rows);
  CHECK(rows == 1);
  BarrierOptions evil{.table = "barrier; DROP TABLE account"};
  CHECK(absl::IsInvalidArgument(Barrier::CreateTable(sql, evil)));
  CHECK(absl::IsInvalidArgument(
      Barrier(Info("evil-1", "action"), evil).Call(sql, [](soci::session&) {
        return absl::OkStatus();
      })));
  CHECK(db.Balance() == 100);
}

}  // namespace
}  // namespace dtx
