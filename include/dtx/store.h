// dtx::Store: where the coordinator keeps transactions. SociStore (dtx::soci) is the
// implementation on SQLite, PostgreSQL and MySQL; StoreWrapper forwards every call so
// that a test can break one.
#ifndef DTX_STORE_H_
#define DTX_STORE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dtx/metrics.h"
#include "dtx/transaction.h"

namespace dtx {

// The fields of a global row an update sets; unset fields keep their values.
struct GlobalUpdate {
  std::optional<std::string> status;
  std::optional<std::string> owner;
  std::optional<absl::Time> next_cron_time;
  std::optional<absl::Duration> next_cron_interval;
  std::optional<std::string> rollback_reason;
  std::optional<absl::Time> finish_time;
  std::optional<absl::Time> rollback_time;
  std::optional<std::string> result;
  std::optional<int64_t> retry_count;
  // Not a field of the row: how soon the write must be durable. A lazy write is one
  // nobody is waiting on (the coordinator's final write under
  // CoordinatorOptions::answer_before_final_write): a store may hold it back a little
  // to share a commit with later writes (SociStoreOptions::lazy_write_wait). Update
  // still returns only once it is durable.
  bool lazy = false;
};

// A branch status change: (gid, branch_id, op) from `prepared` to `status`.
struct BranchUpdate {
  std::string branch_id;
  std::string op;
  std::string status;
};

// Implementations are thread-safe. Every method is atomic: it either happens whole or
// not at all. Codes: kNotFound (no such gid), kAlreadyExists (Create of an existing
// gid), kAborted (a compare-and-set lost: the row was not in the expected state),
// kUnavailable (the database is unreachable or busy: retry), kInternal otherwise.
class Store {
 public:
  virtual ~Store() = default;

  // Stores the transaction with all its branches, atomically. kInvalidArgument, and
  // nothing stored, when a branch repeats the (branch_id, op) of an earlier one,
  // exceeds DTM's column sizes (URL 1024 bytes, branch id 128, op and status 45) or has
  // a name Update would refuse.
  virtual absl::Status Create(const TransGlobal& global,
                              const std::vector<TransBranch>& branches) = 0;

  // Adds `branches` to the transaction `gid` in one transaction if its status is
  // `expected_status` (TCC's registerBranch: while it is `prepared`). A branch whose
  // (branch_id, op) the transaction has already is left as it is: a registration
  // repeated changes nothing. kNotFound for an unknown gid; kAborted, and nothing
  // added, when the status is another; kResourceExhausted, and nothing added, when the
  // transaction would then hold more than `max_rows` branch rows; kInvalidArgument as
  // for Create.
  virtual absl::Status AddBranches(std::string_view gid, std::string_view expected_status,
                                   const std::vector<TransBranch>& branches,
                                   size_t max_rows, absl::Time now) = 0;

  virtual absl::StatusOr<TransGlobal> FindGlobal(std::string_view gid) = 0;
  // The branches of `gid` in insertion order (empty when there are none).
  virtual absl::StatusOr<std::vector<TransBranch>> FindBranches(std::string_view gid) = 0;

  // In one transaction: moves each branch in `branches` from `prepared` to its new
  // status (kInvalidArgument, and nothing changes, for a branch id, op or status with
  // a space, ',', ';' or '|', or an op or status of one character, which no valid one
  // is), then applies `update` to the
  // global row if its status is `expected_status` and its owner is `expected_owner`.
  // kAborted, and nothing changes, if the global row does not match. A branch that is no
  // longer `prepared` is left as it is (another pass got there first; the outcome is the
  // same).
  virtual absl::Status Update(std::string_view gid, std::string_view expected_status,
                              std::string_view expected_owner,
                              const std::vector<BranchUpdate>& branches,
                              const GlobalUpdate& update, absl::Time now) = 0;

  // Update, its answer passed to `done` instead of returned: exactly once, on any
  // thread, perhaps before this returns. A store may so hold a lazy write
  // (GlobalUpdate::lazy) back without holding the caller's thread, and call `done`
  // from the thread that commits it (keep `done` short). The default calls Update,
  // then `done`, on this thread.
  using UpdateDone = absl::AnyInvocable<void(absl::Status) &&>;
  virtual void UpdateAsync(std::string_view gid, std::string_view expected_status,
                           std::string_view expected_owner,
                           const std::vector<BranchUpdate>& branches,
                           const GlobalUpdate& update, absl::Time now, UpdateDone done) {
    std::move(done)(Update(gid, expected_status, expected_owner, branches, update, now));
  }

  // Claims up to `limit` unfinished transactions (`prepared`, `submitted` or
  // `aborting`) whose next_cron_time <= now: sets their owner to `owner` and
  // next_cron_time to `lease_until`, atomically per transaction (two callers never claim
  // the same one). Returns the claimed rows as they are after the claim, each with
  // `taken_from` set to the owner it had before (empty: none).
  virtual absl::StatusOr<std::vector<TransGlobal>> ClaimDue(absl::Time now,
                                                            absl::Time lease_until,
                                                            std::string_view owner,
                                                            int limit) = 0;

  // Up to `limit` transactions, newest first (by id), with id < `before_id` when it is
  // positive, of status `status` and of `trans_type` when they are not empty.
  virtual absl::StatusOr<std::vector<TransGlobal>> List(int64_t before_id,
                                                        std::string_view status,
                                                        std::string_view trans_type,
                                                        int limit) = 0;

  // Up to `limit` unfinished transactions (prepared, submitted or aborting) created
  // before `created_before`, oldest first.
  virtual absl::StatusOr<std::vector<TransGlobal>> ListUnfinished(
      absl::Time created_before, int limit) = 0;

  // Deletes up to `limit` ended transactions (succeed or failed) that finished before
  // `finished_before`, with their branch rows, in one transaction. Returns how many.
  virtual absl::StatusOr<int> DeleteFinished(absl::Time finished_before, int limit) = 0;

  // How many transactions are unfinished (prepared, submitted or aborting) and were
  // created before `created_before`. Default: kUnimplemented (Coordinator::Metrics
  // then leaves out the gauges that need it).
  virtual absl::StatusOr<int64_t> CountUnfinished(absl::Time created_before) {
    return absl::UnimplementedError("this store does not count transactions");
  }
  // Appends the store's own metrics (dtx/metrics.h) to `out`. Default: none.
  virtual void CollectMetrics(std::vector<Metric>& out) {}
};

// Forwards every call to `target` (not owned). Override one method to inject a fault.
// UpdateAsync is not forwarded: it runs this wrapper's Update (Store's default), so an
// override of Update sees every update; a lazy one then holds the calling thread
// until it is written (on a SociStore, up to SociStoreOptions::lazy_write_wait). A
// wrapper that should not hold it forwards UpdateAsync to target()->UpdateAsync.
class StoreWrapper : public Store {
 public:
  explicit StoreWrapper(Store* target) : target_(target) {}

  absl::Status Create(const TransGlobal& global,
                      const std::vector<TransBranch>& branches) override {
    return target_->Create(global, branches);
  }
  absl::Status AddBranches(std::string_view gid, std::string_view expected_status,
                           const std::vector<TransBranch>& branches, size_t max_rows,
                           absl::Time now) override {
    return target_->AddBranches(gid, expected_status, branches, max_rows, now);
  }
  absl::StatusOr<TransGlobal> FindGlobal(std::string_view gid) override {
    return target_->FindGlobal(gid);
  }
  absl::StatusOr<std::vector<TransBranch>> FindBranches(std::string_view gid) override {
    return target_->FindBranches(gid);
  }
  absl::Status Update(std::string_view gid, std::string_view expected_status,
                      std::string_view expected_owner,
                      const std::vector<BranchUpdate>& branches,
                      const GlobalUpdate& update, absl::Time now) override {
    return target_->Update(gid, expected_status, expected_owner, branches, update, now);
  }
  absl::StatusOr<std::vector<TransGlobal>> ClaimDue(absl::Time now,
                                                    absl::Time lease_until,
                                                    std::string_view owner,
                                                    int limit) override {
    return target_->ClaimDue(now, lease_until, owner, limit);
  }
  absl::StatusOr<std::vector<TransGlobal>> List(int64_t before_id,
                                                std::string_view status,
                                                std::string_view trans_type,
                                                int limit) override {
    return target_->List(before_id, status, trans_type, limit);
  }
  absl::StatusOr<std::vector<TransGlobal>> ListUnfinished(absl::Time created_before,
                                                          int limit) override {
    return target_->ListUnfinished(created_before, limit);
  }
  absl::StatusOr<int> DeleteFinished(absl::Time finished_before, int limit) override {
    return target_->DeleteFinished(finished_before, limit);
  }
  absl::StatusOr<int64_t> CountUnfinished(absl::Time created_before) override {
    return target_->CountUnfinished(created_before);
  }
  void CollectMetrics(std::vector<Metric>& out) override { target_->CollectMetrics(out); }

 protected:
  Store* target() const { return target_; }

 private:
  Store* target_;
};

}  // namespace dtx

#endif  // DTX_STORE_H_
