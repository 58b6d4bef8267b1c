// dtx::MemoryStore: a Store that keeps transactions in this process's memory. Nothing
// survives the process: for tests, benchmarks of the coordinator's own cost, and
// transactions that may be lost with their process. Same results as SociStore
// (passes the same conformance suite).
#ifndef DTX_MEMORY_STORE_H_
#define DTX_MEMORY_STORE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "dtx/store.h"

namespace dtx {

// Thread-safe.
class MemoryStore : public Store {
 public:
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

 private:
  struct Entry {
    TransGlobal global;
    std::vector<TransBranch> branches;
  };
  static bool Unfinished(const TransGlobal& g);

  absl::Mutex mu_;
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t next_branch_id_ ABSL_GUARDED_BY(mu_) = 1;
  // Nodes, not slots: an Entry is a kilobyte or more, and a flat map moved every one of
  // them at each growth, under mu_ (measured: sagas/s fell by up to 5x once a bench's
  // store held a few hundred thousand).
  absl::node_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, std::string> by_id_ ABSL_GUARDED_BY(mu_);  // id -> gid
};

}  // namespace dtx

#endif  // DTX_MEMORY_STORE_H_
