#include "dtx/soci/barrier.h"

#include <soci/soci.h>

#include <optional>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dtx/result.h"
#include "dtx/transaction.h"
#include "soci/pg_pipeline.h"
#include "soci/schema_sql.h"
#include "soci/sql.h"

namespace dtx {
namespace {

using internal::Dialect;

// The op whose row a compensating op inserts first, or empty for a forward op.
std::string OriginOp(const std::string& op) {
  if (op == "compensate") return "action";
  if (op == "cancel") return "try";
  if (op == "rollback") return "action";
  return "";
}

// Only [A-Za-z0-9_.] so that a configured name cannot inject SQL.
bool IsSafeTableName(const std::string& table) {
  if (table.empty() || table.size() > 128) return false;
  for (char c : table) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

// The session's dialect and the barrier table's name for it, checked.
absl::Status Resolve(soci::session& sql, const BarrierOptions& options, Dialect* dialect,
                     std::string* table) {
  if (absl::Status s = internal::DialectOf(sql, dialect); !s.ok()) return s;
  *table = !options.table.empty()         ? options.table
           : *dialect == Dialect::kSqlite ? "barrier"
                                          : "dtm_barrier.barrier";
  if (!IsSafeTableName(*table)) {
    return absl::InvalidArgumentError("barrier table name must be [A-Za-z0-9_.]: " +
                                      *table);
  }
  return absl::OkStatus();
}

std::string InsertIgnore(Dialect dialect, const std::string& table) {
  const std::string columns =
      " (trans_type, gid, branch_id, op, barrier_id, reason) VALUES (:trans_type, :gid, "
      ":branch_id, :op, :barrier_id, :reason)";
  switch (dialect) {
    case Dialect::kSqlite:
      return "INSERT OR IGNORE INTO " + table + columns;
    case Dialect::kMysql:
      return "INSERT IGNORE INTO " + table + columns;
    case Dialect::kPostgres:
      return "INSERT INTO " + table + columns +
             " ON CONFLICT (gid, branch_id, op, barrier_id) DO NOTHING";
  }
  return {};
}

// PostgreSQL: BEGIN and the barrier inserts in one round trip (a pipeline), the insert
// prepared once per connection; returns the rows each insert added. *tx owns the
// transaction from the moment BEGIN is sent. Throws soci::soci_error when the
// connection fails.
absl::StatusOr<std::pair<long long, long long>> PgBegin(
    soci::session& sql, const BranchInfo& info, const std::string& table,
    const std::string& barrier_id, const std::string& origin,
    std::optional<internal::LocalTransaction>* tx) {
  std::string failure, sqlstate;
  for (int attempt = 0; attempt < 2; ++attempt) {
    {
      internal::PgPipeline pipe(sql);
      if (attempt > 0) pipe.ForgetPrepared();
      const std::string& insert =
          pipe.PreparedOnce(InsertIgnore(Dialect::kPostgres, table));
      tx->emplace(sql, internal::LocalTransaction::Begun{});
      pipe.SendPlain("BEGIN");
      const auto send = [&](const std::string& op) {
        pipe.Send(insert,
                  {info.trans_type, info.gid, info.branch_id, op, barrier_id, info.op});
      };
      if (!origin.empty()) send(origin);
      send(info.op);
      pipe.Sync();
      std::optional<long long> begun = pipe.Next(&failure);
      std::optional<long long> origin_inserted = 0;
      if (begun && !origin.empty()) origin_inserted = pipe.Next(&failure);
      std::optional<long long> current_inserted =
          begun && origin_inserted ? pipe.Next(&failure) : std::nullopt;
      if (current_inserted) {
        pipe.Finish();
        return std::make_pair(*origin_inserted, *current_inserted);
      }
      sqlstate = pipe.sqlstate();
    }             // the pipeline reads what is left
    tx->reset();  // rolls back
    // 26000: the server forgot the prepared insert (DISCARD ALL, say): once more.
    if (sqlstate != "26000") break;
  }
  return absl::UnavailableError(absl::StrCat("barrier ", info.gid, "/", info.branch_id,
                                             "/", info.op, ": ", failure));
}

}  // namespace

Barrier::Barrier(BranchInfo info, BarrierOptions options)
    : info_(std::move(info)), options_(std::move(options)) {}

absl::StatusOr<std::string> Barrier::TableName(soci::session& sql,
                                               const BarrierOptions& options) {
  Dialect dialect;
  std::string table;
  if (absl::Status s = Resolve(sql, options, &dialect, &table); !s.ok()) return s;
  return table;
}

absl::Status Barrier::CreateTable(soci::session& sql, const BarrierOptions& options) {
  Dialect dialect;
  std::string table;
  if (absl::Status s = Resolve(sql, options, &dialect, &table); !s.ok()) return s;
  if (const size_t dot = table.find('.'); dot != std::string::npos) {
    // DTM's default lives in its own schema (PostgreSQL) or database (MySQL).
    const std::string schema = table.substr(0, dot);
    try {
      if (dialect == Dialect::kPostgres) {
        sql << "CREATE SCHEMA IF NOT EXISTS " + schema;
      } else if (dialect == Dialect::kMysql) {
        sql << "CREATE DATABASE IF NOT EXISTS " + schema;
      }
    } catch (const std::exception& e) {
      return internal::DatabaseError("creating " + schema, e);
    }
  }
  return internal::RunScript(sql, internal::BarrierSchema(dialect), table);
}

absl::StatusOr<int> Barrier::Purge(soci::session& sql, absl::Duration age, int limit,
                                   const BarrierOptions& options) {
  Dialect dialect;
  std::string table;
  if (absl::Status s = Resolve(sql, options, &dialect, &table); !s.ok()) return s;
  long long seconds = absl::ToInt64Seconds(age);
  std::string modifier = "-" + std::to_string(seconds) + " seconds";
  try {
    soci::statement purge(sql);
    switch (dialect) {
      case Dialect::kSqlite:
        purge =
            (sql.prepare << "DELETE FROM " + table + " WHERE id IN (SELECT id FROM " +
                                table +
                                " WHERE create_time < datetime('now', :age) LIMIT :n)",
             soci::use(modifier), soci::use(limit));
        break;
      case Dialect::kPostgres:
        purge = (sql.prepare << "DELETE FROM " + table + " WHERE id IN (SELECT id FROM " +
                                    table +
                                    " WHERE create_time < now() - CAST(:age AS BIGINT) * "
                                    "INTERVAL '1 second' LIMIT :n)",
                 soci::use(seconds), soci::use(limit));
        break;
      case Dialect::kMysql:
        purge = (sql.prepare
                     << "DELETE FROM " + table +
                            " WHERE create_time < NOW() - INTERVAL :age SECOND LIMIT :n",
                 soci::use(seconds), soci::use(limit));
        break;
    }
    purge.execute(true);
    return static_cast<int>(purge.get_affected_rows());
  } catch (const std::exception& e) {
    return internal::DatabaseError("purging " + table, e);
  }
}

absl::Status Barrier::Call(soci::session& sql,
                           const std::function<absl::Status(soci::session&)>& business) {
  Dialect dialect;
  std::string table;
  if (absl::Status s = Resolve(sql, options_, &dialect, &table); !s.ok()) return s;
  const std::string barrier_id = absl::StrFormat("%02d", ++barrier_id_);
  const std::string origin = OriginOp(info_.op);
  try {
    std::optional<internal::LocalTransaction> tx;
    // Rows inserted by the insert of the origin op (a compensation first marks its
    // action as done) and by the insert of the current op.
    long long origin_inserted = 0, current_inserted = 0;
    if (dialect == Dialect::kPostgres) {
      absl::StatusOr<std::pair<long long, long long>> inserted =
          PgBegin(sql, info_, table, barrier_id, origin, &tx);
      if (!inserted.ok()) return inserted.status();
      std::tie(origin_inserted, current_inserted) = *inserted;
    } else {
      tx.emplace(sql, dialect);
      std::string op, reason;
      // A one-time statement: a prepared one would cost a PREPARE and a DEALLOCATE
      // around it as well (on MySQL, round trips).
      soci::statement insert(sql);
      for (const std::string* v : std::initializer_list<const std::string*>{
               &info_.trans_type, &info_.gid, &info_.branch_id, &op, &barrier_id,
               &reason}) {
        insert.exchange(soci::use(*v));
      }
      insert.alloc();
      insert.prepare(InsertIgnore(dialect, table), soci::details::st_one_time_query);
      insert.define_and_bind();
      if (!origin.empty()) {  // 1. the origin op
        op = origin;
        reason = info_.op;
        insert.execute(true);
        origin_inserted = insert.get_affected_rows();
      }
      op = info_.op;  // 2. the current op
      reason = info_.op;
      insert.execute(true);
      current_inserted = insert.get_affected_rows();
    }
    if (current_inserted == 0 && info_.op == kOpMsg) {
      // A message's local transaction runs once: its row says it committed already, or
      // that the back-check ruled it out.
      return absl::AlreadyExistsError(absl::StrCat(
          "barrier ", info_.gid, "/", info_.branch_id,
          "/msg: the local transaction committed before or was ruled out by the "
          "back-check"));
    }
    // 3. null compensation; 4. duplicate, or an action after its compensation.
    if ((!origin.empty() && origin_inserted > 0) || current_inserted == 0) {
      tx->Commit();
      return absl::OkStatus();
    }
    absl::Status result = business(sql);  // 5.
    if (!result.ok()) return result;      // rolls back, barrier rows included
    tx->Commit();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return internal::DatabaseError(
        absl::StrCat("barrier ", info_.gid, "/", info_.branch_id, "/", info_.op), e);
  }
}

absl::Status Barrier::QueryPrepared(soci::session& sql) {
  Dialect dialect;
  std::string table;
  if (absl::Status s = Resolve(sql, options_, &dialect, &table); !s.ok()) return s;
  const std::string trans_type(kTransTypeMsg), branch_id(kBranchIdMsg), op(kOpMsg),
      barrier_id("01"), rollback("rollback");
  try {
    // Autocommitted: the row stands whatever the caller does next.
    sql << InsertIgnore(dialect, table), soci::use(trans_type), soci::use(info_.gid),
        soci::use(branch_id), soci::use(op), soci::use(barrier_id), soci::use(rollback);
    std::string reason;
    sql << "SELECT reason FROM " + table +
               " WHERE gid = :gid AND branch_id = :branch_id AND op = :op AND "
               "barrier_id = :barrier_id",
        soci::use(info_.gid), soci::use(branch_id), soci::use(op), soci::use(barrier_id),
        soci::into(reason);
    if (reason == rollback) {
      return FailureError(absl::StrCat("the local transaction of message ", info_.gid,
                                       " did not commit"));
    }
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return internal::DatabaseError(absl::StrCat("back-check of ", info_.gid), e);
  }
}

}  // namespace dtx
