// dtx::SociStore: the coordinator's Store on a SQL database through SOCI.
#ifndef DTX_SOCI_SOCI_STORE_H_
#define DTX_SOCI_SOCI_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dtx/soci/storage_url.h"
#include "dtx/store.h"

namespace dtx {

struct SociStoreOptions {
  // Which database (see ParseStorageUrl). SQLite runs in WAL mode with
  // synchronous=FULL: a commit that returned survives a crash of the process or the
  // machine; PostgreSQL and MySQL keep their own durability settings.
  std::string url;
  // Connections kept open. A connection that broke is reopened on its next use.
  // Default: 4.
  int pool_size = 4;
  // Create the tables (sql/<dialect>/store.sql) when absent. Default: true.
  bool create_schema = true;
  // Group commit: one writer thread puts the writes of many concurrent callers into one
  // database transaction; each caller returns once the commit holding its write is
  // durable, so nothing is traded for the speed. Default: true.
  bool group_commit = true;
  // At most this many writes share one commit. Default: 256.
  int max_batch = 256;
  // Writer threads, each committing its own batches (each holds a pooled connection
  // while it writes). Fewer writers make larger batches: fewer round trips for BEGIN
  // and COMMIT and fewer log flushes. On PostgreSQL a batch of writes is one round
  // trip: its statements go out together in libpq's pipeline mode and commit as one
  // transaction. Default: 0, meaning 1 on SQLite and PostgreSQL and min(2, pool_size)
  // on MySQL, whose statements travel one by one so that a second writer's batch
  // overlaps the first one's commit (each measured best, bench/README.md).
  int writers = 0;
  // With group commit, how long a lazy write (GlobalUpdate::lazy) may wait for the
  // next write that is not lazy, to commit with it; it goes alone once this passes,
  // or at once when the store closes. A coordinator's Shutdown waits for it too.
  // At most 1 s (longer is taken as 1 s). Default: 2 ms.
  absl::Duration lazy_write_wait = absl::Milliseconds(2);
};

// What the writes of a SociStore cost the database so far; for benches and monitoring.
struct SociStoreCounts {
  int64_t writes = 0;   // Create and Update calls that reached the database
  int64_t commits = 0;  // database transactions begun for them (group commit: fewer)
  int64_t pipelined_commits = 0;  // of which sent as one PostgreSQL pipeline
};

// Thread-safe. See Store for the meaning of each result.
class SociStore : public Store {
 public:
  // kInvalidArgument for a URL it cannot use; kUnavailable when the database cannot be
  // opened.
  static absl::StatusOr<std::unique_ptr<SociStore>> Open(const SociStoreOptions& options);
  ~SociStore() override;

  absl::Status Create(const TransGlobal& global,
                      const std::vector<TransBranch>& branches) override;
  absl::Status AddBranches(std::string_view gid, std::string_view expected_status,
                           const std::vector<TransBranch>& branches, size_t max_rows,
                           absl::Time now) override;
  absl::StatusOr<TransGlobal> FindGlobal(std::string_view gid) override;
  absl::StatusOr<std::vector<TransBranch>> FindBranches(std::string_view gid) override;
  absl::Status Update(std::string_view gid, std::string_view expected_status,
                      std::string_view expected_owner,
                      const std::vector<BranchUpdate>& branches,
                      const GlobalUpdate& update, absl::Time now) override;
  // A lazy write (GlobalUpdate::lazy) is queued and held by no thread: `done` runs
  // on the thread that commits it. Others: Update, then `done`.
  void UpdateAsync(std::string_view gid, std::string_view expected_status,
                   std::string_view expected_owner,
                   const std::vector<BranchUpdate>& branches, const GlobalUpdate& update,
                   absl::Time now, UpdateDone done) override;
  absl::StatusOr<std::vector<TransGlobal>> ClaimDue(absl::Time now,
                                                    absl::Time lease_until,
                                                    std::string_view owner,
                                                    int limit) override;
  absl::StatusOr<std::vector<TransGlobal>> List(int64_t before_id,
                                                std::string_view status,
                                                std::string_view trans_type,
                                                int limit) override;
  absl::StatusOr<std::vector<TransGlobal>> ListUnfinished(absl::Time created_before,
                                                          int limit) override;
  absl::StatusOr<int> DeleteFinished(absl::Time finished_before, int limit) override;
  absl::StatusOr<int64_t> CountUnfinished(absl::Time created_before) override;
  // dtx_store_commit_group_size: writes per commit with group_commit.
  void CollectMetrics(std::vector<Metric>& out) override;

  SociStoreCounts Counts() const;

 private:
  class Impl;
  explicit SociStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dtx

#endif  // DTX_SOCI_SOCI_STORE_H_
