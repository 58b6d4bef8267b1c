#include "dtx/soci/in_transaction.h"

#include <soci/soci.h>

#include "soci/sql.h"
#include "soci/store_statements.h"

namespace dtx {

absl::Status StoreInTransaction(Coordinator& coordinator, soci::session& sql,
                                const TransGlobal& global) {
  absl::StatusOr<TransactionState> rows = coordinator.RowsToStore(global);
  if (!rows.ok()) return rows.status();
  internal::Dialect dialect;
  if (absl::Status s = internal::DialectOf(sql, &dialect); !s.ok()) return s;
  try {
    // The store's own statements, on the caller's session: the same rows a Submit
    // writes, committed (or not) with the caller's transaction.
    internal::StoreStatements statements(sql, dialect);
    if (!statements.Create(rows->global, rows->branches)) {
      return absl::AlreadyExistsError("transaction " + global.gid + " exists");
    }
  } catch (const std::exception& e) {
    absl::Status failed = internal::DatabaseError("storing transaction " + global.gid, e);
    // MySQL reports an existing gid as a duplicate key.
    if (std::string(e.what()).find("Duplicate") != std::string::npos) {
      return absl::AlreadyExistsError("transaction " + global.gid + " exists");
    }
    return failed;
  }
  return absl::OkStatus();
}

}  // namespace dtx
