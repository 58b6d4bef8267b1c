// dtx::StoreInTransaction: the atomic start. A saga or a 2-phase message is stored
// with the writes of the caller's own local transaction, on the database that is also
// the embedded coordinator's store: the transaction exists if and only if the local
// transaction commits. No prepare round trip, no back-check, no window in which one
// exists without the other.
//
//   soci::transaction tx(sql);
//   sql << "INSERT INTO orders ...";
//   absl::Status stored = dtx::StoreInTransaction(*coordinator, sql, saga.Build());
//   if (!stored.ok()) return stored;  // tx rolls back: neither exists
//   tx.commit();
//   coordinator->Submit(saga.Build());  // drive it now (else the scan does, within
//                                       // poll_interval; after a crash, the next
//                                       // coordinator on the store)
#ifndef DTX_SOCI_IN_TRANSACTION_H_
#define DTX_SOCI_IN_TRANSACTION_H_

#include "absl/status/status.h"
#include "dtx/coordinator.h"
#include "dtx/transaction.h"

namespace soci {
class session;
}  // namespace soci

namespace dtx {

// Stores `global` (a saga or a msg, validated as Coordinator::Submit validates it)
// through `sql`, inside the transaction the caller has open there, and does not
// commit. REQUIRES: `sql` is connected to the database of `coordinator`'s SociStore
// (whose tables exist) and is inside a transaction. Returns kInvalidArgument as
// Submit does; kAlreadyExists for a gid the store has (nothing was written; the
// caller's transaction goes on); kUnavailable for a database error (on PostgreSQL the
// caller's transaction is then aborted: roll it back).
absl::Status StoreInTransaction(Coordinator& coordinator, soci::session& sql,
                                const TransGlobal& global);

}  // namespace dtx

#endif  // DTX_SOCI_IN_TRANSACTION_H_
