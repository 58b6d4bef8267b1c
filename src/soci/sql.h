// What SociStore and Barrier share: the SQL dialect of a session, local transactions
// that begin the right way for it, schema scripts, and database errors as statuses.
#ifndef DTX_SOCI_SQL_H_
#define DTX_SOCI_SQL_H_

#include <soci/soci.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace dtx::internal {

enum class Dialect { kSqlite, kPostgres, kMysql };

// kUnimplemented for a backend dtx does not speak.
absl::Status DialectOf(soci::session& sql, Dialect* dialect);

// A local transaction that rolls back unless committed. On SQLite it takes the write
// lock at once (BEGIN IMMEDIATE), so that two writers queue on busy_timeout instead
// of failing with SQLITE_BUSY on lock upgrade.
class LocalTransaction {
 public:
  LocalTransaction(soci::session& sql, Dialect dialect);  // throws soci::soci_error
  // Takes over a transaction the caller began on `sql` itself (or sent BEGIN for).
  struct Begun {};
  LocalTransaction(soci::session& sql, Begun) : sql_(sql) {}
  ~LocalTransaction();
  void Commit();  // throws soci::soci_error

 private:
  soci::session& sql_;
  bool open_ = true;
};

// The settings every session of dtx runs with, which a reconnect loses: SQLite in WAL
// mode with synchronous=FULL; MySQL transactions READ COMMITTED. Throws
// soci::soci_error.
void SetUpSession(soci::session& sql, Dialect dialect);

// The schema scripts of sql/<dialect>/.
const char* StoreSchema(Dialect dialect);
const char* BarrierSchema(Dialect dialect);

// Runs each statement of `script` (statements end with ';' at a line's end; lines
// starting with "--" are comments), with every "${TABLE}" replaced by `table` and
// every "${NAME}" by `table` with '.' as '_'.
absl::Status RunScript(soci::session& sql, std::string_view script,
                       std::string_view table = {});

// A database error as a status: kUnavailable (worth retrying), with `what` first.
absl::Status DatabaseError(std::string_view what, const std::exception& e);

// Whether `e` says the database rolled the transaction back to break a deadlock
// (MySQL/MariaDB error 1213; InnoDB meets one when several transactions insert the
// same unique key and the first rolls back). Nothing of the transaction is left: it
// may run again at once.
bool IsDeadlockVictim(const std::exception& e);

// Unix milliseconds, the stored form of every time.
long long ToMillis(absl::Time t);
absl::Time FromMillis(long long ms);

}  // namespace dtx::internal

#endif  // DTX_SOCI_SQL_H_
