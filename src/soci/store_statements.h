// The writes every saga makes (its rows; the compare-and-set of its global row; its
// branch results), prepared once per pooled connection and executed many times.
//
// Why: SOCI prepares a statement on the PostgreSQL server, executes it, and deallocates
// it when the statement object goes: three round trips. Kept, each execution is one
// round trip and skips the parse and plan; on SQLite it skips sqlite3_prepare.
// On PostgreSQL a write of up to kRowsPerInsert branch rows is one statement instead,
// queued on a PgPipeline so that a group commit's writes travel together
// (SendCreate / SendUpdate, prepared once per connection too).
#ifndef DTX_SOCI_STORE_STATEMENTS_H_
#define DTX_SOCI_STORE_STATEMENTS_H_

#include <soci/soci.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "dtx/store.h"
#include "dtx/transaction.h"
#include "soci/pg_pipeline.h"
#include "soci/sql.h"

namespace dtx::internal {

// Not thread-safe: belongs to one connection, used by whoever leases it. Every method
// throws soci::soci_error on a database error. Statements are bound to the connection:
// drop the object before the connection is reconnected.
class StoreStatements {
 public:
  StoreStatements(soci::session& sql, Dialect dialect);
  ~StoreStatements();
  StoreStatements(const StoreStatements&) = delete;
  StoreStatements& operator=(const StoreStatements&) = delete;

  // Inserts the global row of `g` and its branch rows, unless a row with its gid
  // exists; false then, and nothing was written. Two statements (more past
  // kRowsPerInsert branches); run it in a transaction. On MySQL a gid that exists
  // throws (duplicate key) instead of answering false.
  bool Create(const TransGlobal& g, const std::vector<TransBranch>& branches);

  // The compare-and-set of a global row with its branch results: if the row of `gid`
  // has `expected_status` and `expected_owner`, sets update_time to `now_ms` and every
  // field `u` holds, and moves each branch (gid, branch_id, op) in `branches` from
  // 'prepared' to its status (one no longer prepared is left as it is). False when the
  // row did not match (nothing was written). Two statements (one without branches,
  // more past kRowsPerInsert); run it in a transaction.
  bool Update(const std::string& gid, const std::string& expected_status,
              const std::string& expected_owner,
              const std::vector<BranchUpdate>& branches, const GlobalUpdate& u,
              long long now_ms);

  // TCC's registerBranch: if the global row of `gid` has `expected_status`, sets its
  // update_time to `now_ms` and inserts each of `branches` whose (branch_id, op) the
  // transaction has no row of yet. Answers the status the global row has (nothing is
  // written unless it is `expected_status`), nullopt when there is none. When the
  // transaction would then hold more than `max_rows` rows, nothing is inserted and
  // *too_many is set. Run it in a transaction (the update locks the global row
  // against a concurrent status change) and roll back when *too_many.
  std::optional<std::string> AddBranches(const std::string& gid,
                                         const std::string& expected_status,
                                         const std::vector<TransBranch>& branches,
                                         size_t max_rows, long long now_ms,
                                         bool* too_many);
  // PostgreSQL, writes that IsOneStatement: Create and Update as one statement each
  // (the global row with its branch rows through a CTE), queued on `pipe` (see
  // PgPipeline); the matching Read takes its answer, in the order
  // sent. A Read answers what Create / Update would have, or nullopt when the statement
  // failed or was skipped (*error says why; nothing of its group was committed).
  void SendCreate(PgPipeline& pipe, const TransGlobal& g,
                  const std::vector<TransBranch>& branches);
  std::optional<bool> ReadCreate(PgPipeline& pipe, size_t rows, std::string* error);
  void SendUpdate(PgPipeline& pipe, const std::string& gid,
                  const std::string& expected_status, const std::string& expected_owner,
                  const std::vector<BranchUpdate>& branches, const GlobalUpdate& u,
                  long long now_ms);
  std::optional<bool> ReadUpdate(PgPipeline& pipe, std::string* error);

  static constexpr size_t kRowsPerInsert = 16;

  // Whether a write with `rows` branch rows can go as SendCreate / SendUpdate: one
  // statement, atomic alone (no BEGIN and COMMIT needed).
  static bool IsOneStatement(Dialect dialect, size_t rows);

 private:
  struct GlobalInsert;
  struct GlobalCas;
  struct BranchRows;
  struct BranchResults;

  bool InsertGlobal(const TransGlobal& g);
  void InsertBranches(const std::string& gid, const std::vector<TransBranch>& branches);
  bool UpdateGlobal(const std::string& gid, const std::string& expected_status,
                    const std::string& expected_owner, const GlobalUpdate& u,
                    long long now_ms);
  // kRowsPerInsert results to a statement.
  void UpdateBranches(const std::string& gid, const std::vector<BranchUpdate>& branches,
                      long long now_ms);

  // The name of the pipelined statement `kind` (0 create, 1 update) for `rows` rows,
  // prepared on `pipe` on first use with the query `query` makes.
  const std::string& Piped(PgPipeline& pipe, int kind, size_t rows,
                           absl::FunctionRef<std::string()> query);

  soci::session& sql_;
  const Dialect dialect_;
  // Names of the statements prepared for pipelines on this connection ("" until then);
  // unique to this object, as a connection outlives the objects made for it.
  std::array<std::array<std::string, kRowsPerInsert + 1>, 2> piped_;
  std::unique_ptr<GlobalInsert> insert_global_;
  std::unique_ptr<GlobalCas> update_global_;
  // [n]: the statement for n rows, prepared on first use.
  std::array<std::unique_ptr<BranchRows>, kRowsPerInsert + 1> insert_branches_;
  std::array<std::unique_ptr<BranchResults>, kRowsPerInsert + 1> update_branches_;
};

}  // namespace dtx::internal

#endif  // DTX_SOCI_STORE_STATEMENTS_H_
