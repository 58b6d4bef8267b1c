// All the SQL of SociStore's table (sql/<dialect>/store.sql: one row per transaction,
// its branches in two columns, see trans_row.h), for the three dialects.
//
// The writes every transaction makes (its row; the compare-and-set of its row with its
// branch results) are one statement each, prepared once per pooled connection and
// executed many times. Why: SOCI prepares a statement on the PostgreSQL server,
// executes it, and deallocates it when the statement object goes: three round trips.
// Kept, each execution is one round trip and skips the parse and plan; on SQLite it
// skips sqlite3_prepare. On PostgreSQL they can also be queued on a PgPipeline, so
// that a group commit's writes travel together (SendCreate / SendUpdate).
#ifndef DTX_SOCI_STORE_STATEMENTS_H_
#define DTX_SOCI_STORE_STATEMENTS_H_

#include <soci/soci.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "dtx/store.h"
#include "dtx/transaction.h"
#include "soci/pg_pipeline.h"
#include "soci/sql.h"

namespace dtx::internal {

// The `branches` column in a statement that writes it: the SQL expression for its
// value, named :branches, and the value to bind for `bytes`.
std::string BranchesIn(Dialect dialect);
std::string BranchesValue(Dialect dialect, std::string bytes);

// Not thread-safe: belongs to one connection, used by whoever leases it. Every method
// throws soci::soci_error on a database error. Statements are bound to the connection:
// drop the object before the connection is reconnected.
class StoreStatements {
 public:
  StoreStatements(soci::session& sql, Dialect dialect);
  ~StoreStatements();
  StoreStatements(const StoreStatements&) = delete;
  StoreStatements& operator=(const StoreStatements&) = delete;

  // ---- writes ----

  // Inserts the row of `g` with `branches`, unless a row with its gid exists; false
  // then, and nothing was written. One statement. On MySQL a gid that exists throws
  // (duplicate key) instead of answering false.
  bool Create(const TransGlobal& g, const std::vector<TransBranch>& branches);

  // The compare-and-set of a row with its branch results: if the row of `gid` has
  // `expected_status` and `expected_owner`, sets update_time to `now_ms` and every
  // field `u` holds, and logs `branches` (REQUIRES: CanLog). False when the row did not
  // match (nothing was written). One statement.
  bool Update(const std::string& gid, const std::string& expected_status,
              const std::string& expected_owner,
              const std::vector<BranchUpdate>& branches, const GlobalUpdate& u,
              long long now_ms);

  // TCC's registerBranch: if the row of `gid` has `expected_status`, sets its
  // update_time to `now_ms` and appends each of `branches` whose (branch_id, op) it
  // has not yet. Answers the status the row has (nothing is written unless it is
  // `expected_status`), nullopt when there is none. When the transaction would then
  // hold more than `max_rows` branches, nothing is written and *too_many is set.
  // Writes nothing before it knows it will succeed; safe against a concurrent
  // registration (a compare-and-set, tried again when it loses). kInternal when the
  // row's branches cannot be read.
  absl::StatusOr<std::optional<std::string>> AddBranches(
      const std::string& gid, const std::string& expected_status,
      const std::vector<TransBranch>& branches, size_t max_rows, long long now_ms,
      bool* too_many);

  // PostgreSQL: Create and Update queued on `pipe` (see PgPipeline); the matching Read
  // takes its answer, in the order sent. A Read answers what Create / Update would
  // have, or nullopt when the statement failed or was skipped (*error says why;
  // nothing of its group was committed).
  void SendCreate(PgPipeline& pipe, const TransGlobal& g,
                  const std::vector<TransBranch>& branches);
  std::optional<bool> ReadCreate(PgPipeline& pipe, std::string* error);
  void SendUpdate(PgPipeline& pipe, const std::string& gid,
                  const std::string& expected_status, const std::string& expected_owner,
                  const std::vector<BranchUpdate>& branches, const GlobalUpdate& u,
                  long long now_ms);
  std::optional<bool> ReadUpdate(PgPipeline& pipe, std::string* error);

  // ---- reads (and the scans' writes) ----

  // nullopt: no such gid. kInternal inside: a row that cannot be read.
  std::optional<absl::StatusOr<TransGlobal>> FindGlobal(const std::string& gid);
  // Empty for an unknown gid.
  absl::StatusOr<std::vector<TransBranch>> FindBranches(const std::string& gid);
  // Store::List and Store::ListUnfinished.
  absl::StatusOr<std::vector<TransGlobal>> List(long long before_id,
                                                const std::string& status,
                                                const std::string& trans_type, int limit);
  absl::StatusOr<std::vector<TransGlobal>> ListUnfinished(long long created_before_ms,
                                                          int limit);
  // Created before `created_before_ms`; all of them when it is nullopt.
  long long CountUnfinished(std::optional<long long> created_before_ms);
  // Store::ClaimDue and Store::DeleteFinished; run them in a transaction.
  absl::StatusOr<std::vector<TransGlobal>> ClaimDue(long long now_ms, long long lease_ms,
                                                    const std::string& owner, int limit);
  int DeleteFinished(long long finished_before_ms, int limit);

 private:
  struct Insert;
  struct Cas;
  struct RowReader;
  // A row's status and branch columns, `branches` as bytes.
  struct BranchColumns {
    std::string status, bytes, log;
    long long create_ms = 0;
  };
  std::optional<BranchColumns> ReadBranches(const std::string& gid);

  // The gids (with their owners) `pick` selects, bound to `t` and `limit`, on each of
  // which `apply` (bound to `*gid`) is run in turn; answers those it changed a row of.
  std::vector<std::pair<std::string, std::string>> PickAndApply(const std::string& pick,
                                                                long long t, int limit,
                                                                soci::statement& apply,
                                                                std::string* gid);
  // The name of the pipelined statement `kind` (0 create, 1 update), prepared on `pipe`
  // on first use.
  const std::string& Piped(PgPipeline& pipe, int kind);

  soci::session& sql_;
  const Dialect dialect_;
  // Names of the statements prepared for pipelines on this connection ("" until then);
  // unique to this object, as a connection outlives the objects made for it.
  std::array<std::string, 2> piped_;
  std::unique_ptr<Insert> insert_;
  std::unique_ptr<Cas> cas_;
};

}  // namespace dtx::internal

#endif  // DTX_SOCI_STORE_STATEMENTS_H_
