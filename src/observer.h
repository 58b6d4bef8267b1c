// What a coordinator tells the outside about itself: log records (through
// CoordinatorOptions::logger), counters and histograms (Coordinator::Metrics), spans
// (CoordinatorOptions::tracer). One per coordinator, shared by its passes.
#ifndef DTX_OBSERVER_H_
#define DTX_OBSERVER_H_

#include <array>
#include <atomic>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dtx/coordinator.h"
#include "dtx/log.h"
#include "dtx/metrics.h"
#include "dtx/store.h"
#include "dtx/tracing.h"
#include "internal/histogram.h"
#include "internal/log_limiter.h"

namespace dtx::internal {

// A branch call as the log and the metrics see it.
struct CallRecord {
  std::string_view gid, trans_type, branch_id, op, url;
};

// Thread-safe.
class Observer {
 public:
  // options.logger null: StreamLogger::Default().
  explicit Observer(const CoordinatorOptions& options);

  Tracer* tracer() const { return tracer_; }
  // Whether calls and store writes are to be timed (CoordinatorOptions::metrics).
  bool counting() const { return counting_; }

  // A transaction's status changed from `from` ("" when it was created) to `to`.
  void Changed(std::string_view gid, std::string_view trans_type, std::string_view from,
               std::string_view to, std::string_view reason);
  // A branch call answered `answer` (the result vocabulary) after `seconds`; an error
  // is logged at warn, rate-limited per (op, code).
  void Called(const CallRecord& call, const absl::Status& answer, double seconds);
  // A pass ended after `seconds`; `scan`: started by the scan (a retry or a recovery),
  // not by a submit or abort.
  void PassEnded(bool scan, double seconds);
  // The scan claimed `global` from `global.taken_from`, whose lease ran out.
  void TakenOver(const TransGlobal& global);
  // A store write (Create, Update, AddBranches, a claim) took `seconds`.
  void StoreWritten(bool ok, double seconds);
  // An error record, rate-limited per (event, `kind`).
  void Error(std::string_view event, std::string_view kind, std::vector<LogField> fields);

  // Counters and histograms, in the order README lists them.
  void Collect(std::vector<Metric>& out) const;

 private:
  static constexpr int kTypes = 4;    // saga, tcc, msg, other
  static constexpr int kOps = 6;      // action, compensate, confirm, cancel,
                                      // msg (a message's back-check), other
  static constexpr int kResults = 4;  // success, failure, ongoing, error
  using Counter = std::atomic<uint64_t>;

  Logger* const logger_;
  Tracer* const tracer_;
  const bool counting_;  // CoordinatorOptions::metrics

  std::array<Counter, kTypes> started_{};
  std::array<std::array<Counter, 2>, kTypes> finished_{};  // succeed, failed
  std::array<std::array<Counter, kResults>, kOps> calls_{};
  std::array<Counter, 2> passes_{};  // submit, scan
  Counter takeovers_{0};
  Counter store_errors_{0};
  std::deque<Histogram> call_seconds_;  // per op (deque: Histogram does not move)
  Histogram pass_seconds_;
  Histogram store_write_seconds_;

  LogLimiter limiter_;  // warn and error records
};

// The coordinator's store, each write timed into `observer`.
class ObservedStore : public StoreWrapper {
 public:
  ObservedStore(Store* target, Observer* observer)
      : StoreWrapper(target), observer_(observer) {}

  absl::Status Create(const TransGlobal& global,
                      const std::vector<TransBranch>& branches) override;
  absl::Status AddBranches(std::string_view gid, std::string_view expected_status,
                           const std::vector<TransBranch>& branches, size_t max_rows,
                           absl::Time now) override;
  absl::Status Update(std::string_view gid, std::string_view expected_status,
                      std::string_view expected_owner,
                      const std::vector<BranchUpdate>& branches,
                      const GlobalUpdate& update, absl::Time now) override;
  // Forwarded to the target's UpdateAsync (a lazy write holds no thread there).
  void UpdateAsync(std::string_view gid, std::string_view expected_status,
                   std::string_view expected_owner,
                   const std::vector<BranchUpdate>& branches, const GlobalUpdate& update,
                   absl::Time now, UpdateDone done) override;
  absl::StatusOr<std::vector<TransGlobal>> ClaimDue(absl::Time now,
                                                    absl::Time lease_until,
                                                    std::string_view owner,
                                                    int limit) override;

 private:
  Observer* const observer_;
};

}  // namespace dtx::internal

#endif  // DTX_OBSERVER_H_
