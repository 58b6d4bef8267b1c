// The conversion of a store database of the two-table layout (DTM's trans_global and
// trans_branch_op, written by dtx until 2026-11-30) to one row per transaction
// (sql/<dialect>/store.sql).
#ifndef DTX_SOCI_LAYOUT_MIGRATION_H_
#define DTX_SOCI_LAYOUT_MIGRATION_H_

#include <soci/soci.h>

#include "absl/status/status.h"
#include "soci/sql.h"

namespace dtx::internal {

// When `sql`'s database has a trans_global table: renames it and trans_branch_op (a
// coordinator of the old version still running then fails its writes at once, instead
// of adding rows after the last batch), copies each transaction, with its branches,
// their statuses and times, into dtx_trans (which must exist), a batch per local
// transaction that also deletes what it copied, then drops the two tables. Unfinished
// transactions carry on from where they were. Safe to run again after a crash part-way
// and by two processes at once (a row already copied is left alone; the one that
// finishes second finds the tables gone). Two queries when there is nothing to do.
absl::Status MigrateTwoTableLayout(soci::session& sql, Dialect dialect);

}  // namespace dtx::internal

#endif  // DTX_SOCI_LAYOUT_MIGRATION_H_
