#include "soci/layout_migration.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "dtx/transaction.h"
#include "soci/store_statements.h"
#include "soci/trans_row.h"

namespace dtx::internal {
namespace {

constexpr int kBatch = 200;

// The old tables under the names they are converted from: renamed first, so that a
// coordinator of the old version still writing fails at once instead of adding rows
// after the last batch.
constexpr const char* kGlobals = "dtx_old_global";
constexpr const char* kBranches = "dtx_old_branch";

bool HasTable(soci::session& sql, Dialect dialect, const std::string& name) {
  long long n = 0;
  switch (dialect) {
    case Dialect::kSqlite:
      sql << "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = :n",
          soci::use(name), soci::into(n);
      break;
    case Dialect::kPostgres:
      // The schema a query would find it in: the first of the search path.
      sql << "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = "
             "current_schema() AND table_name = :n",
          soci::use(name), soci::into(n);
      break;
    case Dialect::kMysql:
      sql << "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = "
             "DATABASE() AND table_name = :n",
          soci::use(name), soci::into(n);
      break;
  }
  return n > 0;
}

// trans_global and trans_branch_op renamed to kGlobals and kBranches together, unless
// another process did it first.
void RenameOldTables(soci::session& sql, Dialect dialect) {
  try {
    if (dialect == Dialect::kMysql) {  // atomic for both
      sql << "RENAME TABLE trans_global TO " << kGlobals << ", trans_branch_op TO "
          << kBranches;
      return;
    }
    LocalTransaction tx(sql, dialect);
    sql << "ALTER TABLE trans_global RENAME TO " << kGlobals;
    sql << "ALTER TABLE trans_branch_op RENAME TO " << kBranches;
    tx.Commit();
  } catch (const std::exception&) {
    if (HasTable(sql, dialect, "trans_global")) throw;  // not a race lost
  }
}

// A nullable BIGINT column as Unix ms (`otherwise` when NULL).
struct Millis {
  long long ms = 0;
  soci::indicator ind = soci::i_null;
  long long Or(long long otherwise) const { return ind == soci::i_ok ? ms : otherwise; }
};

// One trans_global row as it is read and written.
struct OldGlobal {
  long long id = 0;
  std::string gid, trans_type, status, query_prepared, protocol, options, custom_data,
      owner, result, rollback_reason;
  Millis create_time, update_time, finish_time, rollback_time, next_cron_interval,
      next_cron_time, retry_count;
};

// Copies up to kBatch transactions, and deletes them from the old tables, in one local
// transaction. Answers how many it copied.
int MoveBatch(soci::session& sql, Dialect dialect) {
  LocalTransaction tx(sql, dialect);
  std::vector<OldGlobal> globals;
  {
    OldGlobal g;
    soci::indicator ind[6];
    soci::statement st =
        (sql.prepare << "SELECT id, gid, trans_type, status, query_prepared, protocol, "
                        "create_time, update_time, finish_time, rollback_time, options, "
                        "custom_data, next_cron_interval, next_cron_time, owner, result, "
                        "rollback_reason, retry_count FROM "
                     << kGlobals << " ORDER BY id LIMIT " << kBatch,
         soci::into(g.id), soci::into(g.gid), soci::into(g.trans_type),
         soci::into(g.status), soci::into(g.query_prepared, ind[0]),
         soci::into(g.protocol), soci::into(g.create_time.ms, g.create_time.ind),
         soci::into(g.update_time.ms, g.update_time.ind),
         soci::into(g.finish_time.ms, g.finish_time.ind),
         soci::into(g.rollback_time.ms, g.rollback_time.ind),
         soci::into(g.options, ind[1]), soci::into(g.custom_data, ind[2]),
         soci::into(g.next_cron_interval.ms, g.next_cron_interval.ind),
         soci::into(g.next_cron_time.ms, g.next_cron_time.ind),
         soci::into(g.owner, ind[3]), soci::into(g.result, ind[4]),
         soci::into(g.rollback_reason, ind[5]),
         soci::into(g.retry_count.ms, g.retry_count.ind));
    st.execute();
    while (st.fetch()) {
      // NOT NULL DEFAULT '' columns; a NULL read leaves the last row's value.
      for (auto [i, s] : {std::pair{0, &g.query_prepared},
                          {1, &g.options},
                          {2, &g.custom_data},
                          {3, &g.owner},
                          {4, &g.result},
                          {5, &g.rollback_reason}}) {
        if (ind[i] != soci::i_ok) s->clear();
      }
      globals.push_back(g);
    }
  }
  const bool pg = dialect == Dialect::kPostgres;
  for (const OldGlobal& g : globals) {
    const long long create = g.create_time.Or(0);
    std::vector<TransBranch> branches;
    std::string log;
    {
      std::string url, bin, branch_id, op, status;
      soci::indicator bin_ind = soci::i_null;
      Millis created, updated;
      soci::statement st =
          (sql.prepare << "SELECT url, " << (pg ? "encode(bin_data, 'hex')" : "bin_data")
                       << ", branch_id, op, status, create_time, update_time FROM "
                       << kBranches << " WHERE gid = :gid ORDER BY id",
           soci::use(g.gid), soci::into(url), soci::into(bin, bin_ind),
           soci::into(branch_id), soci::into(op), soci::into(status),
           soci::into(created.ms, created.ind), soci::into(updated.ms, updated.ind));
      st.execute();
      while (st.fetch()) {
        TransBranch& b = branches.emplace_back();
        b.url = url;
        b.bin_data = bin_ind != soci::i_ok ? std::string()
                     : pg                  ? absl::HexStringToBytes(bin)
                                           : bin;
        b.branch_id = branch_id;
        b.op = op;
        b.status = std::string(kStatusPrepared);
        b.create_time = FromMillis(created.Or(create));
        if (status != kStatusPrepared) {
          log += LogEntry({BranchUpdate{branch_id, op, status}}, updated.Or(create));
        }
      }
    }
    const std::string column =
        BranchesValue(dialect, EncodeBranches(branches, create, /*first=*/true));
    const long long update = g.update_time.Or(create),
                    interval = g.next_cron_interval.Or(0), next = g.next_cron_time.Or(0),
                    retries = g.retry_count.Or(0);
    soci::indicator finish_ind = g.finish_time.ind, rollback_ind = g.rollback_time.ind;
    long long finish = g.finish_time.ms, rollback = g.rollback_time.ms;
    sql << "INSERT INTO dtx_trans (gid, id, trans_type, status, query_prepared, "
           "protocol, "
           "create_time, update_time, finish_time, rollback_time, options, custom_data, "
           "next_cron_interval, next_cron_time, owner, result, rollback_reason, "
           "retry_count, branches, branch_log) VALUES (:gid, :id, :trans_type, :status, "
           ":query_prepared, :protocol, :create_time, :update_time, :finish_time, "
           ":rollback_time, :options, :custom_data, :interval, :next, :owner, :result, "
           ":rollback_reason, :retry_count, "
        << BranchesIn(dialect) << ", :log)"
        << (dialect == Dialect::kMysql ? " ON DUPLICATE KEY UPDATE gid = gid"
                                       : " ON CONFLICT (gid) DO NOTHING"),
        soci::use(g.gid), soci::use(g.id), soci::use(g.trans_type), soci::use(g.status),
        soci::use(g.query_prepared), soci::use(g.protocol), soci::use(create),
        soci::use(update), soci::use(finish, finish_ind),
        soci::use(rollback, rollback_ind), soci::use(g.options), soci::use(g.custom_data),
        soci::use(interval), soci::use(next), soci::use(g.owner), soci::use(g.result),
        soci::use(g.rollback_reason), soci::use(retries), soci::use(column),
        soci::use(log);
    sql << "DELETE FROM " << kBranches << " WHERE gid = :gid", soci::use(g.gid);
    sql << "DELETE FROM " << kGlobals << " WHERE gid = :gid", soci::use(g.gid);
  }
  tx.Commit();
  return static_cast<int>(globals.size());
}

}  // namespace

absl::Status MigrateTwoTableLayout(soci::session& sql, Dialect dialect) {
  try {
    if (HasTable(sql, dialect, "trans_global")) RenameOldTables(sql, dialect);
    if (!HasTable(sql, dialect, kGlobals)) return absl::OkStatus();  // the usual case
    while (true) {
      try {
        if (MoveBatch(sql, dialect) == 0) break;
      } catch (const std::exception&) {
        // Another process converting at once finished and dropped the tables.
        if (!HasTable(sql, dialect, kGlobals)) return absl::OkStatus();
        throw;
      }
    }
    // Branch rows without a transaction (none are written so) go with their table.
    sql << "DROP TABLE IF EXISTS " << kBranches;
    sql << "DROP TABLE IF EXISTS " << kGlobals;
  } catch (const std::exception& e) {
    return DatabaseError("converting the two-table store layout", e);
  }
  return absl::OkStatus();
}

}  // namespace dtx::internal
