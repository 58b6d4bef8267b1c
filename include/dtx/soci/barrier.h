// dtx::Barrier: the sub-transaction barrier (PROTOCOL.md, "Barrier").
//
// A branch handler wraps its local database work in Barrier::Call. In one local
// transaction the barrier records (gid, branch_id, op) in the barrier table and runs
// the business code only when it must, which makes the handler safe against
//  - duplicate requests: the same op delivered again is a no-op answering SUCCESS;
//  - null compensation: a compensation whose action never ran does nothing;
//  - hanging: an action arriving after its compensation does nothing.
//
//   absl::Status TransOut(const dtx::BranchInfo& info, soci::session& sql, int amount) {
//     return dtx::Barrier(info).Call(sql, [&](soci::session& tx) -> absl::Status {
//       tx << "UPDATE account SET balance = balance - :a WHERE id = 1",
//       soci::use(amount); return absl::OkStatus();
//     });
//   }
#ifndef DTX_SOCI_BARRIER_H_
#define DTX_SOCI_BARRIER_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dtx/branch_info.h"

namespace soci {
class session;
}  // namespace soci

namespace dtx {

struct BarrierOptions {
  // The barrier table. Default: empty, meaning "barrier" on SQLite and
  // "dtm_barrier.barrier" on PostgreSQL and MySQL (DTM's name).
  std::string table;
};

// Not thread-safe: one Barrier per handler call. Calling Call more than once in one
// handler uses barrier ids "01", "02", ... as DTM does.
class Barrier {
 public:
  explicit Barrier(BranchInfo info, BarrierOptions options = {});

  // Runs `business` inside one local transaction on `sql` together with the barrier
  // inserts, and commits only if it returns OK. Returns
  //  - OK: the business ran and committed, or was skipped as a duplicate, a null
  //    compensation or a hanging action (nothing to do, and the answer is SUCCESS);
  //  - the business's own status when it failed; the transaction, barrier rows
  //    included, was rolled back, so a later retry runs the business again;
  //  - kUnavailable: a database error (exceptions from `business` are caught and
  //    reported the same way); nothing was committed;
  //  - kAlreadyExists, for op "msg" only (a 2-phase message's local transaction,
  //    DoAndSubmit): its row exists, because that transaction committed before or
  //    because the back-check (QueryPrepared) ruled it out; the business did not run.
  // REQUIRES: `sql` is open and not inside a transaction.
  absl::Status Call(soci::session& sql,
                    const std::function<absl::Status(soci::session&)>& business);

  // The back-check of a 2-phase message (its query_prepared handler): whether the
  // message's local transaction, run by DoAndSubmit under barrier (gid, "00", "msg"),
  // committed. OK (SUCCESS) when it did; kAborted (FAILURE) when it did not, and then
  // it never will: the row this inserts makes that transaction's barrier refuse it.
  // kUnavailable on a database error. Only the gid of info() is used.
  absl::Status QueryPrepared(soci::session& sql);

  // Creates the barrier table for `sql`'s backend when absent
  // (sql/<dialect>/barrier.sql).
  static absl::Status CreateTable(soci::session& sql, const BarrierOptions& options = {});

  // The barrier table's name on `sql`'s backend: options.table, else the default
  // above. kInvalidArgument for a name outside [A-Za-z0-9_.].
  static absl::StatusOr<std::string> TableName(soci::session& sql,
                                               const BarrierOptions& options = {});

  // Retention for the barrier table: deletes up to `limit` rows created more than
  // `age` ago (by the database's clock) and returns how many. Call it from time to time
  // with an age well past the longest a transaction can run, since a row deleted too
  // early would let a late duplicate or hanging op through.
  static absl::StatusOr<int> Purge(soci::session& sql, absl::Duration age, int limit,
                                   const BarrierOptions& options = {});

  const BranchInfo& info() const { return info_; }

 private:
  BranchInfo info_;
  BarrierOptions options_;
  int barrier_id_ = 0;
};

}  // namespace dtx

#endif  // DTX_SOCI_BARRIER_H_
