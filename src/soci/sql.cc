#include "soci/sql.h"

#include <soci/mysql/soci-mysql.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "soci/schema_sql.h"

namespace dtx::internal {

absl::Status DialectOf(soci::session& sql, Dialect* dialect) {
  const std::string name = sql.get_backend_name();
  if (name == "sqlite3") {
    *dialect = Dialect::kSqlite;
  } else if (name == "postgresql") {
    *dialect = Dialect::kPostgres;
  } else if (name == "mysql") {
    *dialect = Dialect::kMysql;
  } else {
    return absl::UnimplementedError(
        absl::StrCat("dtx does not speak SOCI backend '", name, "'"));
  }
  return absl::OkStatus();
}

LocalTransaction::LocalTransaction(soci::session& sql, Dialect dialect) : sql_(sql) {
  if (dialect == Dialect::kSqlite) {
    sql_ << "BEGIN IMMEDIATE";
  } else {
    sql_.begin();
  }
}

LocalTransaction::~LocalTransaction() {
  if (!open_) return;
  try {
    sql_.rollback();
  } catch (const std::exception&) {
    // The connection is gone; the database rolls back on its own.
  }
}

void LocalTransaction::Commit() {
  open_ = false;
  sql_.commit();
}

absl::Status RunScript(soci::session& sql, std::string_view script,
                       std::string_view table) {
  const absl::string_view table_name(table.data(), table.size());
  const std::string name = absl::StrReplaceAll(table_name, {{".", "_"}});
  std::string statement;
  try {
    for (absl::string_view line :
         absl::StrSplit(absl::string_view(script.data(), script.size()), '\n')) {
      absl::string_view trimmed = absl::StripAsciiWhitespace(line);
      if (trimmed.empty() || absl::StartsWith(trimmed, "--")) continue;
      absl::StrAppend(&statement, line, "\n");
      if (absl::EndsWith(trimmed, ";")) {
        sql << absl::StrReplaceAll(statement,
                                   {{"${TABLE}", table_name}, {"${NAME}", name}});
        statement.clear();
      }
    }
  } catch (const std::exception& e) {
    return DatabaseError("creating the schema", e);
  }
  return absl::OkStatus();
}

void SetUpSession(soci::session& sql, Dialect dialect) {
  switch (dialect) {
    case Dialect::kSqlite:
      sql << "PRAGMA journal_mode=WAL";
      sql << "PRAGMA synchronous=FULL";
      break;
    case Dialect::kMysql:
      sql << "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";
      break;
    case Dialect::kPostgres:
      break;
  }
}

const char* StoreSchema(Dialect dialect) {
  switch (dialect) {
    case Dialect::kSqlite:
      return kSqliteStoreSql;
    case Dialect::kPostgres:
      return kPostgresStoreSql;
    case Dialect::kMysql:
      return kMysqlStoreSql;
  }
  return "";
}

const char* BarrierSchema(Dialect dialect) {
  switch (dialect) {
    case Dialect::kSqlite:
      return kSqliteBarrierSql;
    case Dialect::kPostgres:
      return kPostgresBarrierSql;
    case Dialect::kMysql:
      return kMysqlBarrierSql;
  }
  return "";
}

absl::Status DatabaseError(std::string_view what, const std::exception& e) {
  return absl::UnavailableError(absl::StrCat(std::string(what), ": ", e.what()));
}

bool IsDeadlockVictim(const std::exception& e) {
  constexpr unsigned kErLockDeadlock = 1213;
  const auto* mysql = dynamic_cast<const soci::mysql_soci_error*>(&e);
  return mysql != nullptr && mysql->err_num_ == kErLockDeadlock;
}

long long ToMillis(absl::Time t) { return absl::ToUnixMillis(t); }
absl::Time FromMillis(long long ms) { return absl::FromUnixMillis(ms); }

}  // namespace dtx::internal
