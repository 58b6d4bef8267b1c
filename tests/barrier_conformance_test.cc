// Barrier conformance on SQLite, PostgreSQL and MariaDB: the same checks on each.
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "conformance.h"
#include "dtx/gid.h"
#include "dtx/result.h"
#include "dtx/soci/barrier.h"

namespace dtx {
namespace {

const BarrierOptions kTable{.table = "conformance_barrier"};

void FreshTables() {
  auto sql = testing::OpenSession();
  *sql << "DROP TABLE IF EXISTS conformance_barrier";
  *sql << "DROP TABLE IF EXISTS conformance_account";
  *sql << "CREATE TABLE conformance_account (id INT PRIMARY KEY, balance INT NOT NULL)";
  *sql << "INSERT INTO conformance_account (id, balance) VALUES (1, 100)";
  REQUIRE(Barrier::CreateTable(*sql, kTable).ok());
}

int Balance() {
  auto sql = testing::OpenSession();
  int balance = 0;
  *sql << "SELECT balance FROM conformance_account WHERE id = 1", soci::into(balance);
  return balance;
}

// Runs op `op` of branch "01" of `gid` behind the barrier on `sql`; its business adds
// `delta` to the account, counts its runs and answers `result`.
absl::Status ApplyOn(soci::session& sql, const std::string& gid, const std::string& op,
                     int delta, std::atomic<int>* runs,
                     absl::Status result = absl::OkStatus()) {
  BranchInfo info{.trans_type = "saga", .gid = gid, .branch_id = "01", .op = op};
  return Barrier(info, kTable).Call(sql, [&](soci::session& tx) {
    ++*runs;
    tx << "UPDATE conformance_account SET balance = balance + :d WHERE id = 1",
        soci::use(delta);
    return result;
  });
}

// The same on a session of its own.
absl::Status Apply(const std::string& gid, const std::string& op, int delta,
                   std::atomic<int>* runs, absl::Status result = absl::OkStatus()) {
  return ApplyOn(*testing::OpenSession(), gid, op, delta, runs, std::move(result));
}

TEST_CASE("barrier: duplicates, null compensation and hanging") {
  if (testing::ConformanceBackend() == "memory") return;  // no SQL
  FreshTables();
  std::atomic<int> a{0}, c{0};
  CHECK(Apply("b-dup", "action", -10, &a).ok());
  CHECK(Apply("b-dup", "action", -10, &a).ok());
  CHECK(Apply("b-dup", "compensate", 10, &c).ok());
  CHECK(Apply("b-dup", "compensate", 10, &c).ok());
  CHECK(a == 1);
  CHECK(c == 1);
  std::atomic<int> a2{0}, c2{0};
  CHECK(Apply("b-null", "compensate", 10, &c2).ok());  // null compensation
  CHECK(Apply("b-null", "action", -10, &a2).ok());     // hanging: skipped, SUCCESS
  CHECK(a2 == 0);
  CHECK(c2 == 0);
  CHECK(Balance() == 100);
}

TEST_CASE("barrier: a business error rolls its barrier rows back") {
  if (testing::ConformanceBackend() == "memory") return;  // no SQL
  FreshTables();
  std::atomic<int> runs{0};
  CHECK(IsFailure(Apply("b-err", "action", -10, &runs, FailureError("no"))));
  CHECK(Balance() == 100);
  CHECK(Apply("b-err", "action", -10, &runs).ok());
  CHECK(runs == 2);
  CHECK(Balance() == 90);
}

TEST_CASE(
    "barrier: a barrier insert that fails is an error, and its session stays usable") {
  if (testing::ConformanceBackend() == "memory") return;  // no SQL
  FreshTables();
  auto sql = testing::OpenSession();
  std::atomic<int> runs{0};
  BranchInfo info{
      .trans_type = "saga", .gid = "b-missing", .branch_id = "01", .op = "compensate"};
  const absl::Status missing =
      Barrier(info, {.table = "no_such_barrier_table"}).Call(*sql, [&](soci::session&) {
        ++runs;
        return absl::OkStatus();
      });
  INFO(missing.ToString());
  CHECK(absl::IsUnavailable(missing));
  CHECK(runs == 0);
  // The same session: no transaction left open, no statement left unread.
  auto credit = [&](const std::string& gid, const std::string& op) {
    return ApplyOn(*sql, gid, op, 5, &runs);
  };
  CHECK(credit("b-after", "compensate").ok());
  CHECK(runs == 0);  // a compensation with no action before it: null compensation
  CHECK(credit("b-after-2", "action").ok());
  CHECK(runs == 1);
  CHECK(Balance() == 105);
}

TEST_CASE(
    "barrier: on PostgreSQL the insert is prepared once per connection, and again when "
    "the server forgot it") {
  if (testing::ConformanceBackend() != "postgresql") return;
  FreshTables();
  auto sql = testing::OpenSession();
  std::atomic<int> runs{0};
  auto debit = [&](const std::string& gid, const std::string& op) {
    return ApplyOn(*sql, gid, op, -1, &runs);
  };
  auto prepared = [&] {
    int n = -1;
    *sql << "SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE "
            "'%conformance_barrier%'",
        soci::into(n);
    return n;
  };
  CHECK(debit("b-once-1", "action").ok());
  CHECK(debit("b-once-2", "action").ok());
  CHECK(debit("b-once-2", "compensate").ok());  // two inserts, one statement
  CHECK(prepared() == 1);
  *sql << "DEALLOCATE ALL";  // as a pooler's DISCARD ALL would
  CHECK(debit("b-once-3", "action").ok());
  CHECK(prepared() == 1);
  sql->reconnect();  // a new connection starts with none
  CHECK(prepared() == 0);
  CHECK(debit("b-once-3", "action").ok());  // a duplicate: business skipped
  CHECK(prepared() == 1);
  // A server connection that holds the statement already, under its name, though
  // this session never prepared it there (as when a pooler hands the session a server
  // connection another client prepared it on): preparing meets "already exists"
  // (42P05), which counts as prepared.
  std::string name, text;
  *sql << "SELECT name, statement FROM pg_prepared_statements WHERE statement LIKE "
          "'%conformance_barrier%'",
      soci::into(name), soci::into(text);
  sql->reconnect();
  *sql << ("PREPARE " + name + " AS " + text);
  CHECK(debit("b-once-4", "action").ok());
  CHECK(prepared() == 1);
  CHECK(runs == 5);  // three actions, a compensation, an action; not the duplicate
  CHECK(Balance() == 95);
}

TEST_CASE("barrier: TCC's try, confirm and cancel") {
  if (testing::ConformanceBackend() == "memory") return;  // no SQL
  FreshTables();
  std::atomic<int> tries{0}, cancels{0}, confirms{0};
  // A cancel before its try (the try hangs in the network): null compensation, and
  // the late try changes nothing.
  CHECK(Apply("tcc-hang", "cancel", 10, &cancels).ok());
  CHECK(Apply("tcc-hang", "try", -10, &tries).ok());
  CHECK(tries == 0);
  CHECK(cancels == 0);
  CHECK(Balance() == 100);
  // try, then cancel compensates it once.
  CHECK(Apply("tcc-back", "try", -10, &tries).ok());
  CHECK(Apply("tcc-back", "cancel", 10, &cancels).ok());
  CHECK(Apply("tcc-back", "cancel", 10, &cancels).ok());
  CHECK(tries == 1);
  CHECK(cancels == 1);
  CHECK(Balance() == 100);
  // try, then confirm, each once.
  CHECK(Apply("tcc-ok", "try", -10, &tries).ok());
  CHECK(Apply("tcc-ok", "confirm", 0, &confirms).ok());
  CHECK(Apply("tcc-ok", "confirm", 0, &confirms).ok());
  CHECK(confirms == 1);
  CHECK(Balance() == 90);
}

TEST_CASE("barrier: a message's local transaction and its back-check") {
  if (testing::ConformanceBackend() == "memory") return;  // no SQL
  FreshTables();
  std::atomic<int> runs{0};
  auto local = [&](const std::string& gid, absl::Status result = absl::OkStatus()) {
    auto sql = testing::OpenSession();
    BranchInfo info{.trans_type = "msg", .gid = gid, .branch_id = "00", .op = "msg"};
    return Barrier(info, kTable).Call(*sql, [&](soci::session& tx) {
      ++runs;
      tx << "UPDATE conformance_account SET balance = balance - 1 WHERE id = 1";
      return result;
    });
  };
  auto back_check = [](const std::string& gid) {
    auto sql = testing::OpenSession();
    BranchInfo info{.trans_type = "msg", .gid = gid, .branch_id = "00", .op = "msg"};
    return Barrier(info, kTable).QueryPrepared(*sql);
  };
  // Committed: the back-check says SUCCESS, every time; the business never runs twice.
  REQUIRE(local("msg-done").ok());
  CHECK(back_check("msg-done").ok());
  CHECK(back_check("msg-done").ok());
  CHECK(absl::IsAlreadyExists(local("msg-done")));
  CHECK(runs == 1);
  CHECK(Balance() == 99);
  // Rolled back by its business: FAILURE, and from then on it is ruled out.
  CHECK(IsFailure(local("msg-no", FailureError("no stock"))));
  CHECK(IsFailure(back_check("msg-no")));
  CHECK(absl::IsAlreadyExists(local("msg-no")));
  CHECK(runs == 2);
  // Never ran (the process died first): FAILURE, and a late run is refused.
  CHECK(IsFailure(back_check("msg-never")));
  CHECK(absl::IsAlreadyExists(local("msg-never")));
  CHECK(runs == 2);
  CHECK(Balance() == 99);
}

TEST_CASE("barrier: 8 threads delivering one op run the business once") {
  if (testing::ConformanceBackend() == "memory") return;  // no SQL
  FreshTables();
  std::atomic<int> runs{0}, ok{0};
  std::atomic<bool> go{false};
  // Opened here: OpenSession asserts, and Catch's macros are not thread-safe.
  std::vector<std::unique_ptr<soci::session>> sessions;
  for (int t = 0; t < 8; ++t) sessions.push_back(testing::OpenSession());
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      while (!go) std::this_thread::yield();
      if (ApplyOn(*sessions[t], "b-race", "action", -10, &runs).ok()) ++ok;
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  CHECK(runs == 1);
  CHECK(ok == 8);
  CHECK(Balance() == 90);
}

TEST_CASE("barrier: the default table is created where DTM keeps it") {
  if (testing::ConformanceBackend() == "memory") return;  // no SQL
  auto sql = testing::OpenSession();
  REQUIRE(Barrier::CreateTable(*sql).ok());
  REQUIRE(Barrier::CreateTable(*sql).ok());  // idempotent
  int runs = 0;
  // The default table outlives test runs on a server: a new gid each run.
  BranchInfo info{.trans_type = "saga",
                  .gid = GidGenerator().Next(),
                  .branch_id = "01",
                  .op = "action"};
  CHECK(Barrier(info)
            .Call(*sql,
                  [&](soci::session&) {
                    ++runs;
                    return absl::OkStatus();
                  })
            .ok());
  CHECK(Barrier(info)
            .Call(*sql,
                  [&](soci::session&) {
                    ++runs;
                    return absl::OkStatus();
                  })
            .ok());
  CHECK(runs == 1);
}

TEST_CASE("barrier: old rows are purged in batches") {
  if (testing::ConformanceBackend() == "memory") return;  // no SQL
  FreshTables();
  std::atomic<int> runs{0};
  for (const char* gid : {"p-1", "p-2", "p-3"})
    CHECK(Apply(gid, "action", 0, &runs).ok());
  auto sql = testing::OpenSession();
  *sql << "UPDATE conformance_barrier SET create_time = '2000-01-01 00:00:00' "
          "WHERE gid IN ('p-1', 'p-2')";
  absl::StatusOr<int> first = Barrier::Purge(*sql, absl::Hours(1), 1, kTable);
  REQUIRE(first.ok());
  CHECK(*first == 1);
  CHECK(*Barrier::Purge(*sql, absl::Hours(1), 10, kTable) == 1);
  CHECK(*Barrier::Purge(*sql, absl::Hours(1), 10, kTable) == 0);  // p-3 is young
  int left = 0;
  *sql << "SELECT COUNT(*) FROM conformance_barrier", soci::into(left);
  CHECK(left == 1);
}

}  // namespace
}  // namespace dtx
