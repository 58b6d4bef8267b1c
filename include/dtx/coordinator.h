// dtx::Coordinator: the transaction manager embedded in the calling process.
//
// It stores every transaction before calling any branch, drives sagas to their end
// (PROTOCOL.md, "Saga semantics"), retries ONGOING answers at retry_interval and
// errors with capped, jittered exponential backoff, and finishes, after a crash or a
// restart, whatever an earlier coordinator on the same store left unfinished: an
// unfinished transaction is claimed by lease (next_cron_time) by exactly one
// coordinator, and every status change is a compare-and-set on the old status.
#ifndef DTX_COORDINATOR_H_
#define DTX_COORDINATOR_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dtx/clock.h"
#include "dtx/log.h"
#include "dtx/metrics.h"
#include "dtx/store.h"
#include "dtx/submitter.h"
#include "dtx/tracing.h"
#include "dtx/transaction.h"
#include "dtx/transport.h"

namespace dtx {

struct CoordinatorOptions {
  // Required. Not owned; must outlive the coordinator.
  Store* store = nullptr;
  // Transport per transaction protocol ("http", "grpc", or a name of yours). Not
  // owned; must outlive the coordinator. Submitting a protocol missing here is
  // kInvalidArgument.
  std::map<std::string, Transport*> transports;
  // Not owned. Default: the wall clock.
  Clock* clock = Clock::Real();
  // Where the coordinator logs (dtx/log.h lists the records). Not owned; must outlive
  // the coordinator. Default: StreamLogger::Default(), key=value lines on stderr,
  // warn and above.
  Logger* logger = nullptr;
  // Spans of submits, passes and branch calls (dtx/tracing.h). Not owned; must outlive
  // the coordinator. Default: none (a submitter's trace context is still stored and
  // passed on to the branches).
  Tracer* tracer = nullptr;
  // Counters and histograms for Metrics(): a few relaxed atomic adds and two clock
  // reads per branch call. false: Metrics() has the store's gauges only. Default: true.
  bool metrics = true;
  // An unfinished transaction created longer ago than this counts as stuck in
  // Metrics(). Default: 60 s.
  absl::Duration stuck_after = absl::Seconds(60);
  // This instance's name in the `owner` column. Default: a random id.
  std::string owner;
  // Defaults for transactions that leave their option at zero.
  absl::Duration request_timeout = absl::Seconds(3);  // Default: 3 s
  absl::Duration retry_interval = absl::Seconds(10);  // Default: 10 s
  // A TCC or 2-phase message still `prepared` this long after its prepare is settled
  // by the coordinator: a TCC rolls back, a message's query_prepared is asked. Applies
  // to those that leave timeout_to_fail at zero (sagas then never time out).
  // Default: 35 s, as DTM.
  absl::Duration timeout_to_fail = absl::Seconds(35);
  // Exponential backoff after errors stops growing here. Default: 1 hour.
  absl::Duration max_backoff = absl::Hours(1);
  // Each retry delay is stretched by a random fraction in [0, backoff_jitter) so that
  // retries of many transactions spread out. Default: 0.2. Zero: exact delays.
  double backoff_jitter = 0.2;
  // How long a claimed transaction stays this coordinator's before another may take
  // it over; passes renew it while they run. Default: 60 s.
  absl::Duration lease = absl::Seconds(60);
  // Real time between scans for due transactions (retries and recovery).
  // Default: 1 s. Zero: no background scan; call RunDue() yourself.
  absl::Duration poll_interval = absl::Seconds(1);
  // At most this many transactions claimed per scan. Default: 100.
  int claim_batch = 100;
  // Threads that start passes and apply branch answers. Default: 4.
  int worker_threads = 4;
  // Retention: ended transactions whose finish is older than this are deleted, with
  // their branch rows, by the background scan, `retention_batch` rows per database
  // transaction. Default: zero, keep everything.
  absl::Duration retention = absl::ZeroDuration();
  int retention_batch = 100;

  // Limits on what a submit may ask for; a transaction over one is refused
  // (kInvalidArgument) and nothing is stored.
  // Steps of one saga or message, branches of one TCC. Default: 1,000.
  int max_steps = 1000;
  // A transaction's request_timeout. Default: 1 hour.
  absl::Duration max_request_timeout = absl::Hours(1);
  // A transaction's retry_limit: each retry is a call made at once, in one pass.
  // Default: 100.
  int64_t max_retry_limit = 100;
  // A transaction's timeout_to_fail. Default: 7 days.
  absl::Duration max_timeout_to_fail = absl::Hours(24 * 7);
  // Branch calls of one transaction in flight at once (a concurrent saga's ready
  // actions beyond it wait for earlier calls to answer). Default: 64.
  int max_calls_per_transaction = 64;
  // Branch calls in flight at once over all transactions of this coordinator; past it
  // a call waits for one to end (its request_timeout counts from its start). Default:
  // 0, no limit.
  int max_calls_in_flight = 0;

  // Relaxed durability, opt-in. A submit or abort with wait_result is answered as soon
  // as its first pass has decided the final status (succeed or failed), before that
  // status is durable; the final write is then lazy (GlobalUpdate::lazy, through
  // Store::UpdateAsync: a SociStore commits it with the next write, within
  // SociStoreOptions::lazy_write_wait; bench/README.md has the gain). Every final
  // write of a pass is lazy too. What it risks: if the final write is not made (a
  // crash of the process or the database in the window, a database error, the
  // transaction force-stopped meanwhile), the transaction stays in its last durable
  // status (submitted, aborting, a message's prepared) while the answer given stands;
  // it is driven again when its lease runs out, and every branch whose result was not
  // yet stored is called again. Branches behind a barrier answer those repeats as
  // before and the transaction ends as answered; a branch that is not idempotent may
  // act twice, or answer otherwise and end the transaction otherwise than answered.
  // Within the window a query still shows the earlier status. Nothing is lost: a
  // submit still returns only once the transaction is stored, and no status but the
  // final one is written late. Default: false.
  bool answer_before_final_write = false;
};

// Thread-safe.
class Coordinator : public Submitter {
 public:
  // kInvalidArgument when options.store is missing.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Start(CoordinatorOptions options);

  // Shutdown().
  ~Coordinator() override;

  // Submitter: sagas, TCC and 2-phase messages (xa and workflow: kUnimplemented).
  // kInvalidArgument, with nothing stored, for an invalid gid, more payloads than
  // steps, a bad custom_data, a protocol without a transport, a URL or
  // branch_headers its transport refuses (Transport::CheckBranch), or a transaction
  // over the limits of CoordinatorOptions. With wait_result, kAborted (FAILURE) only
  // once the transaction has `failed` (its compensations or cancels all ran);
  // rolling back but not done yet is kFailedPrecondition (ONGOING), as is any
  // transaction the first pass did not finish. Submitting a gid that already
  // succeeded answers kAlreadyExists; one that already failed, or is rolling back,
  // kAborted.
  absl::Status Submit(const TransGlobal& global) override;

  // Submit without waiting here: `done` (not empty) gets what Submit would answer,
  // exactly once. For wait_result, once the first pass has ended, from a thread of
  // that pass (keep it short: it holds that thread); otherwise, and for any answer
  // known before a pass starts (an invalid transaction, a failed store, an ended gid,
  // or a gid whose pass another coordinator holds: OK at once, as Submit answers),
  // before this returns, on this thread. A server answering wait_result submits this
  // way holds no thread while their sagas run.
  using SubmitDone = std::function<void(absl::Status)>;
  void Submit(const TransGlobal& global, SubmitDone done);

  // The atomic start, first half (StoreInTransaction in dtx/soci/in_transaction.h
  // does the rest): validates a saga or message as Submit does and returns the rows
  // Submit would store, `submitted`, owned by no coordinator and due at once, for the
  // caller to store with the writes of its own local transaction. Stores nothing.
  // kInvalidArgument as for Submit; a TCC (driven by its client) too.
  absl::StatusOr<TransactionState> RowsToStore(const TransGlobal& global);

  // Submitter; see there. A msg prepare needs query_prepared (kInvalidArgument).
  absl::Status Prepare(const TransGlobal& global) override;
  absl::Status RegisterBranch(const TccBranch& branch) override;
  absl::Status Abort(const TransGlobal& global) override;
  // Abort without waiting here, as Submit(global, done) submits: a TCC whose cancels
  // run with wait_result answers from the pass's last thread.
  void Abort(const TransGlobal& global, SubmitDone done);

  // kNotFound for an unknown gid, kInvalidArgument for an invalid one.
  absl::StatusOr<TransactionState> Query(std::string_view gid) override;

  // Operator: ends an unfinished transaction as `failed` at once, with no
  // compensation (rollback_reason "force stopped"). kNotFound for an unknown gid,
  // kAborted (FAILURE) when it had already ended. A pass running over it stops at its
  // next write.
  absl::Status ForceStop(std::string_view gid);

  // Operator: "retry now". Makes an unfinished transaction due at once, unless a pass
  // holds it right now (then that pass is already at work: OK, nothing changes).
  // kNotFound for an unknown gid, kAborted (FAILURE) when it has ended.
  absl::Status RetryNow(std::string_view gid);

  // Operator: unfinished transactions created more than `older_than` ago, oldest
  // first, each with its last error (`result`), retry count and next attempt
  // (`next_cron_time`).
  absl::StatusOr<std::vector<TransGlobal>> ListStuck(absl::Duration older_than,
                                                     int limit);

  // Deletes ended transactions older than options.retention (none when it is zero),
  // in batches; returns how many. The background scan calls it about once a minute.
  absl::StatusOr<int> PurgeFinished();

  // Transactions newest first; see Store::List.
  absl::StatusOr<std::vector<TransGlobal>> List(int64_t before_id,
                                                std::string_view status,
                                                std::string_view trans_type, int limit);

  // This coordinator's numbers since Start (README, "Operating dtxd", lists them):
  // counters and histograms kept in memory, then two gauges read from the store
  // (transactions unfinished, and stuck: unfinished for longer than stuck_after;
  // left out when the store cannot count them), then the store's own metrics.
  std::vector<Metric> Metrics();

  // Claims every transaction due now (by the clock) and runs one pass of each; returns
  // when those passes are over, with how many there were. For tests and tools that
  // set poll_interval to zero.
  absl::StatusOr<int> RunDue();

  // Stops scanning and waits for every running pass to end. Submit then answers
  // kUnavailable. Unfinished transactions stay in the store for the next coordinator.
  void Shutdown();

  class Impl;

 private:
  explicit Coordinator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dtx

#endif  // DTX_COORDINATOR_H_
