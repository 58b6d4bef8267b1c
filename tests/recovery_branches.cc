#include "recovery_branches.h"

#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <chrono>
#include <memory>
#include <thread>

#include "dtx/result.h"
#include "dtx/soci/barrier.h"

namespace dtx::testing {
namespace {

std::unique_ptr<soci::session> Open(const std::string& path) {
  auto sql = std::make_unique<soci::session>(soci::sqlite3, "db=" + path + " timeout=30");
  *sql << "PRAGMA journal_mode=WAL";
  *sql << "PRAGMA synchronous=FULL";
  return sql;
}

// One service's op: moves `delta` and writes a ledger row, behind the barrier.
absl::Status Apply(const std::string& db, const BranchRequest& r, int delta, bool refuse,
                   int delay_ms) {
  auto sql = Open(db);
  BranchInfo info{r.trans_type, r.gid, r.branch_id, r.op};
  return Barrier(info).Call(*sql, [&](soci::session& tx) -> absl::Status {
    if (refuse) return FailureError("transfer refused");
    tx << "UPDATE account SET balance = balance + :d WHERE id = 1", soci::use(delta);
    tx << "INSERT INTO ledger (gid, op, delta) VALUES (:g, :o, :d)", soci::use(r.gid),
        soci::use(r.op), soci::use(delta);
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    return absl::OkStatus();
  });
}

bool Refused(const std::string& gid) {
  return std::stoi(gid.substr(gid.rfind('-') + 1)) % 4 == 0;
}

}  // namespace

void CreateBranchDatabases(const std::string& dir) {
  for (const char* name : {"out.db", "in.db"}) {
    auto sql = Open(dir + "/" + name);
    *sql
        << "CREATE TABLE IF NOT EXISTS account (id INTEGER PRIMARY KEY, balance INTEGER)";
    *sql << "INSERT OR IGNORE INTO account (id, balance) VALUES (1, :b)",
        soci::use(kInitialBalance);
    *sql << "CREATE TABLE IF NOT EXISTS ledger (gid TEXT, op TEXT, delta INTEGER)";
    if (!Barrier::CreateTable(*sql).ok()) throw std::runtime_error("barrier table");
  }
}

void InstallBranches(LocalTransport& transport, const std::string& dir, int delay_ms) {
  const std::string out = dir + "/out.db", in = dir + "/in.db";
  transport.Handle("local://out/action", [=](const BranchRequest& r) {
    return Apply(out, r, -kAmount, false, delay_ms);
  });
  transport.Handle("local://out/compensate", [=](const BranchRequest& r) {
    return Apply(out, r, +kAmount, false, delay_ms);
  });
  transport.Handle("local://in/action", [=](const BranchRequest& r) {
    return Apply(in, r, +kAmount, Refused(r.gid), delay_ms);
  });
  transport.Handle("local://in/compensate", [=](const BranchRequest& r) {
    return Apply(in, r, -kAmount, false, delay_ms);
  });
}

std::string TransferGid(int i) { return "transfer-" + std::to_string(i); }

TransGlobal TransferSaga(int i) {
  Saga saga(nullptr, TransferGid(i));
  saga.Add("local://out/action", "local://out/compensate", "{}")
      .Add("local://in/action", "local://in/compensate", "{}")
      .Protocol("local")
      .RetryInterval(absl::Milliseconds(200));
  return saga.Build();
}

}  // namespace dtx::testing
