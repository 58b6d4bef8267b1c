#include "dtx/coordinator.h"

#include <chrono>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "dtx/gid.h"
#include "dtx/result.h"
#include "engine/pass.h"
#include "internal/caller_runs.h"
#include "internal/options_json.h"
#include "internal/text_rules.h"
#include "internal/thread_pool.h"
#include "observer.h"

namespace dtx {

class Coordinator::Impl {
 public:
  explicit Impl(CoordinatorOptions options);
  ~Impl() { Shutdown(); }

  // With `async`, a wait_result submit whose first pass starts takes *async (leaving
  // it empty) and answers through it once that pass ends, from a thread of the pass;
  // whatever else happens is answered here, *async left as it was.
  absl::Status Submit(const TransGlobal& global, SubmitDone* async = nullptr);
  absl::Status Prepare(const TransGlobal& global);
  absl::StatusOr<TransactionState> RowsToStore(const TransGlobal& global);
  absl::Status RegisterBranch(const TccBranch& branch);
  // With `async`, as Submit: a TCC whose cancels start answers through it (taken).
  absl::Status Abort(const TransGlobal& global, SubmitDone* async = nullptr);
  absl::StatusOr<TransactionState> Query(std::string_view gid);
  absl::StatusOr<int> RunDue();
  void Shutdown();
  // Applies `update` to an unfinished transaction by compare-and-set on its current
  // (status, owner), retrying when a pass moved it on meanwhile. `only_if_idle`: leave
  // a transaction that a pass holds alone (answer OK).
  absl::Status Operate(std::string_view gid, const GlobalUpdate& update,
                       bool only_if_idle);
  absl::StatusOr<int> PurgeFinished();
  std::vector<Metric> Metrics();

  const CoordinatorOptions& options() const { return options_; }

 private:
  using PassDone = absl::AnyInvocable<void(const TransGlobal&, absl::Status) &&>;

  // What Submit and Prepare refuse (kInvalidArgument, kUnimplemented).
  absl::Status Validate(const TransGlobal& global, bool prepare) const;
  // Whether the transport of `protocol` takes every URL (empty ones aside).
  absl::Status CheckUrls(const std::string& protocol,
                         std::initializer_list<const std::string*> urls,
                         const std::map<std::string, std::string>& headers) const;
  // A new global row of `global` with `status`, and its branch rows.
  TransGlobal NewRow(const TransGlobal& global, std::string_view status,
                     absl::Time now) const;
  absl::Status Resubmit(const TransGlobal& global, SubmitDone* async);
  // Claims `existing` by compare-and-set on its status and owner, applying `change`
  // too, and drives it: a first pass that answers (wait_result) or one in the
  // background. nullopt when it moved on meanwhile (the compare-and-set lost).
  // REQUIRES: a slot from Enter(); given back.
  std::optional<absl::Status> ClaimAndDrive(TransGlobal existing, GlobalUpdate change,
                                            bool wait_result, SubmitDone* async);
  // Drives a transaction this coordinator holds: as ClaimAndDrive, after the claim.
  absl::Status Drive(TransGlobal&& claimed, std::vector<TransBranch>&& branches,
                     bool wait_result, SubmitDone* async);
  absl::Duration TimeoutToFail(const TransGlobal& global) const;
  // The first pass of a wait_result submit: here, waiting for it; or, with `async`,
  // in the background, answering *async (taken) when it ends.
  absl::Status RunFirstPass(TransGlobal&& claimed, std::vector<TransBranch>&& branches,
                            SubmitDone* async);
  // Runs one pass over a transaction this coordinator has claimed. REQUIRES: a slot
  // taken with Enter(); the pass gives it back when it ends.
  // `runner`: the waiting thread of a wait_result submit, or null.
  // `scan`: claimed by the scan, not by a submit or abort (for the metrics).
  // `answer`: a submitter's, called before `done` when the pass ends, or earlier
  // under answer_before_final_write (see engine::Pass::Create).
  void RunPass(TransGlobal&& claimed, std::vector<TransBranch>&& branches, bool scan,
               PassDone done, PassDone answer = nullptr, CallRunner* runner = nullptr);
  // With a tracer, the span of a submit or prepare of `row`, child of its submitter's
  // context; the row then runs under the span's context. Null without one.
  std::unique_ptr<Span> SpanOf(std::string_view name, TransGlobal& row);
  // Counts running passes so that a caller can wait for them.
  class PassCounter {
   public:
    void Add(int n) {
      absl::MutexLock lock(&mu_);
      n_ += n;
    }
    void WaitForZero() {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](int* n) { return *n == 0; }, &n_));
    }

   private:
    absl::Mutex mu_;
    int n_ ABSL_GUARDED_BY(mu_) = 0;
  };
  // Claims up to claim_batch due transactions and starts a pass over each, counted in
  // `counter` if given. Returns how many were claimed.
  absl::StatusOr<int> ClaimAndRun(PassCounter* counter);
  bool Enter();
  void Leave();
  void PollLoop();
  double Random();

  const CoordinatorOptions options_;
  internal::Observer observer_;
  internal::ObservedStore store_;  // options_.store, its writes timed
  engine::PassContext context_;
  internal::CallLimiter limiter_;

  absl::Mutex mu_;
  int active_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  absl::Mutex rng_mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(rng_mu_);

  internal::ThreadPool pool_;
  absl::Mutex join_mu_;
  std::thread poller_;
};

namespace {

CoordinatorOptions WithDefaults(CoordinatorOptions o) {
  if (o.owner.empty()) o.owner = "dtx-" + GidGenerator().Next();
  if (o.clock == nullptr) o.clock = Clock::Real();
  if (o.claim_batch <= 0) o.claim_batch = 100;
  if (o.worker_threads <= 0) o.worker_threads = 1;
  if (o.max_calls_per_transaction <= 0) o.max_calls_per_transaction = 1;
  return o;
}

// What Submit answers for wait_result, from the state the first pass left.
absl::Status Outcome(const TransGlobal& g, const absl::Status& error) {
  if (g.status == kStatusSucceed) return absl::OkStatus();
  if (g.status == kStatusFailed) return FailureError(g.rollback_reason);
  if (g.status == kStatusAborting) {
    // Not rolled back yet: the compensations still to run may take a while.
    return OngoingError(
        absl::StrCat("wait result not return success: rolling back: ", g.rollback_reason));
  }
  if (!error.ok()) {
    return OngoingError(
        absl::StrCat("wait result not return success: ", error.ToString()));
  }
  return OngoingError("wait result not return success");
}

// What a submit of an ended transaction answers.
absl::Status Ended(const TransGlobal& g) {
  if (g.status == kStatusSucceed) {
    return absl::AlreadyExistsError(
        absl::StrCat("transaction ", g.gid, " already succeeded"));
  }
  return FailureError(absl::StrCat("transaction ", g.gid, " already ended: ", g.status,
                                   g.rollback_reason.empty() ? "" : ": ",
                                   g.rollback_reason));
}

// What a submit or abort answers when another pass holds the transaction: that pass
// drives it on; a caller who asked to wait for the outcome cannot have it here.
absl::Status HeldElsewhere(bool wait_result) {
  if (!wait_result) return absl::OkStatus();
  return OngoingError("wait result not return success: another pass is driving it");
}

// The stored options column's size (sql/*/store.sql: VARCHAR(1024)).
constexpr size_t kMaxStoredOptions = 1024;

// The size of `o` as stored (internal::OptionsToJson), built only when a cheap upper
// bound does not show it small: a submit without headers or trace context pays no
// JSON for it. The bound: the other options take under 200 bytes; a byte of a header
// or of the trace context at most 6 (escaped), plus quotes and separators.
size_t StoredSize(const TransOptions& o) {
  size_t bound = 240 + 6 * (o.traceparent.size() + o.tracestate.size());
  for (const auto& [name, value] : o.branch_headers) {
    bound += 6 * (name.size() + value.size() + 1);
  }
  return bound <= kMaxStoredOptions ? bound : internal::OptionsToJson(o).size();
}

// Keeps the trace context of `o` only when it is valid (the W3C rule: an invalid
// traceparent is ignored; a tracestate that is not printable ASCII within 512 bytes,
// or that would not fit the column, is dropped alone).
void KeepStorableTrace(TransOptions& o) {
  if (!IsValidTraceparent(o.traceparent)) {
    o.traceparent.clear();
    o.tracestate.clear();
  } else if (!IsValidTracestate(o.tracestate) || StoredSize(o) > kMaxStoredOptions) {
    o.tracestate.clear();
  }
}

void EndSpan(Span* span, const absl::Status& answer) {
  if (span == nullptr) return;
  if (!answer.ok()) span->SetError(answer.ToString());
  span->End();
}

bool IsEnded(const TransGlobal& g) {
  return g.status == kStatusSucceed || g.status == kStatusFailed;
}

}  // namespace

Coordinator::Impl::Impl(CoordinatorOptions options)
    : options_(WithDefaults(std::move(options))),
      observer_(options_),
      store_(options_.store, &observer_),
      limiter_(options_.max_calls_in_flight),
      rng_(std::random_device{}()),
      pool_(options_.worker_threads) {
  context_.store = &store_;
  context_.observer = &observer_;
  context_.options = &options_;
  context_.owner = options_.owner;
  context_.random = [this] { return Random(); };
  context_.limiter = &limiter_;
  if (options_.poll_interval > absl::ZeroDuration()) {
    poller_ = std::thread([this] { PollLoop(); });
  }
}

double Coordinator::Impl::Random() {
  absl::MutexLock lock(&rng_mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

bool Coordinator::Impl::Enter() {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  ++active_;
  return true;
}

void Coordinator::Impl::Leave() {
  absl::MutexLock lock(&mu_);
  --active_;
}

absl::Status Coordinator::Impl::Validate(const TransGlobal& g, bool prepare) const {
  if (!IsValidGid(g.gid)) {
    return absl::InvalidArgumentError(
        g.gid.empty() ? std::string("missing gid")
                      : absl::StrCat("invalid gid '", internal::Excerpt(g.gid, 64),
                                     "': use 1-128 characters of [A-Za-z0-9-_.~:]"));
  }
  const std::optional<engine::Mode> mode = engine::ParseMode(g.trans_type);
  if (!mode) {
    return absl::UnimplementedError(
        absl::StrCat("trans_type '", internal::Excerpt(g.trans_type, 32),
                     "' is not supported yet: dtx drives saga, tcc and msg"));
  }
  if (prepare && *mode == engine::Mode::kSaga) {
    return absl::InvalidArgumentError("a saga is submitted, not prepared");
  }
  if (prepare && *mode == engine::Mode::kMsg && g.query_prepared.empty()) {
    return absl::InvalidArgumentError(
        "a msg is prepared with its query_prepared URL: the coordinator asks it when "
        "the message is neither submitted nor aborted in time");
  }
  if (!g.payloads.empty() && g.payloads.size() != g.steps.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "got ", g.payloads.size(), " payloads for ", g.steps.size(), " steps"));
  }
  if (static_cast<int64_t>(g.steps.size()) > options_.max_steps) {
    return absl::InvalidArgumentError(
        absl::StrCat(g.steps.size(), " steps: more than this coordinator's limit of ",
                     options_.max_steps));
  }
  if (*mode == engine::Mode::kSaga) {
    absl::StatusOr<SagaOrders> orders =
        ParseSagaOrders(g.custom_data, static_cast<int>(g.steps.size()));
    if (!orders.ok()) return orders.status();
  } else if (*mode == engine::Mode::kMsg) {
    absl::StatusOr<MsgOptions> msg = ParseMsgOptions(g.custom_data);
    if (!msg.ok()) return msg.status();
  }
  for (absl::Duration d :
       {g.options.request_timeout, g.options.timeout_to_fail, g.options.retry_interval}) {
    if (d < absl::ZeroDuration()) {
      return absl::InvalidArgumentError("a timeout or interval is negative");
    }
  }
  if (g.options.request_timeout > options_.max_request_timeout) {
    return absl::InvalidArgumentError(
        absl::StrCat("request_timeout above this coordinator's limit of ",
                     absl::FormatDuration(options_.max_request_timeout)));
  }
  if (g.options.retry_limit < 0 || g.options.retry_limit > options_.max_retry_limit) {
    return absl::InvalidArgumentError(
        absl::StrCat("retry_limit outside [0, ", options_.max_retry_limit,
                     "], this coordinator's limit"));
  }
  if (g.options.timeout_to_fail > options_.max_timeout_to_fail) {
    return absl::InvalidArgumentError(
        absl::StrCat("timeout_to_fail above this coordinator's limit of ",
                     absl::FormatDuration(options_.max_timeout_to_fail)));
  }
  for (const auto& [name, value] : g.options.branch_headers) {
    // Headers travel as HTTP fields or gRPC metadata: a line break would split a
    // request, a colon end a name. Transports check the rest (CheckBranch).
    if (name.empty() ||
        name.find_first_of(std::string_view(":\r\n\0", 4)) != std::string::npos ||
        value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "branch header '", internal::Excerpt(name, 64),
          "' has an empty name, a colon in its name, or a line break or NUL"));
    }
  }
  if (absl::Status s = CheckUrls(g.protocol, {&g.query_prepared}, g.options.branch_headers);
      !s.ok()) {
    return s;
  }
  if (StoredSize(g.options) > kMaxStoredOptions) {  // what the trace may drop aside
    TransOptions stored = g.options;
    KeepStorableTrace(stored);
    if (const size_t size = internal::OptionsToJson(stored).size();
        size > kMaxStoredOptions) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the options (branch_headers above all) take ", size, " bytes stored, over the ",
          kMaxStoredOptions, " the store keeps"));
    }
  }
  for (const SagaStep& step : g.steps) {
    // A message's steps have no compensation: one given is not stored, not checked.
    const std::string* compensate =
        *mode == engine::Mode::kSaga ? &step.compensate : nullptr;
    absl::Status s = CheckUrls(g.protocol, {&step.action, compensate},
                               g.options.branch_headers);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Coordinator::Impl::CheckUrls(
    const std::string& protocol, std::initializer_list<const std::string*> urls,
    const std::map<std::string, std::string>& headers) const {
  const Transport* transport = nullptr;
  for (const std::string* url : urls) {
    if (url == nullptr || url->empty()) continue;
    if (transport == nullptr) {
      auto it = options_.transports.find(protocol);
      if (it == options_.transports.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "no transport for protocol '", internal::Excerpt(protocol, 32), "'"));
      }
      transport = it->second;
    }
    if (absl::Status s = transport->CheckBranch(*url, headers); !s.ok()) {
      return absl::InvalidArgumentError(s.message());
    }
  }
  return absl::OkStatus();
}

absl::Duration Coordinator::Impl::TimeoutToFail(const TransGlobal& g) const {
  return g.options.timeout_to_fail > absl::ZeroDuration() ? g.options.timeout_to_fail
                                                          : options_.timeout_to_fail;
}

TransGlobal Coordinator::Impl::NewRow(const TransGlobal& global, std::string_view status,
                                      absl::Time now) const {
  TransGlobal row;  // what the global row holds: no steps or payloads
  row.gid = global.gid;
  row.trans_type = global.trans_type;
  row.protocol = global.protocol;
  row.custom_data = global.custom_data;
  row.query_prepared = global.query_prepared;
  row.options = global.options;
  KeepStorableTrace(row.options);
  row.status = std::string(status);
  row.create_time = row.update_time = now;
  if (status == kStatusPrepared) {
    // Nobody's until the client submits or aborts it, or it times out.
    row.next_cron_time = now + TimeoutToFail(global);
  } else {
    row.owner = options_.owner;
    row.next_cron_time = now + options_.lease;
  }
  return row;
}

namespace {

// The rows a transaction is created with: per saga step [compensate, action]; per
// message step an action; none for a TCC, whose branches are registered.
std::vector<TransBranch> RowsOf(const TransGlobal& global, absl::Time now) {
  std::vector<TransBranch> rows;
  if (global.trans_type == kTransTypeTcc) return rows;
  const bool saga = global.trans_type == kTransTypeSaga;
  rows.reserve(global.steps.size() * (saga ? 2 : 1));
  for (size_t i = 0; i < global.steps.size(); ++i) {
    TransBranch b;
    b.gid = global.gid;
    b.branch_id = absl::StrFormat("%02d", i + 1);
    b.bin_data = i < global.payloads.size() ? global.payloads[i] : std::string();
    b.status = std::string(kStatusPrepared);
    b.create_time = b.update_time = now;
    if (saga) {
      b.op = std::string(kOpCompensate);
      b.url = global.steps[i].compensate;
      rows.push_back(b);
    }
    b.op = std::string(kOpAction);
    b.url = global.steps[i].action;
    rows.push_back(std::move(b));
  }
  return rows;
}

}  // namespace

std::unique_ptr<Span> Coordinator::Impl::SpanOf(std::string_view name, TransGlobal& row) {
  if (observer_.tracer() == nullptr) return nullptr;
  const LogField attributes[] = {{"dtx.gid", row.gid},
                                 {"dtx.trans_type", row.trans_type}};
  std::unique_ptr<Span> span =
      observer_.tracer()->Start(name, {row.options.traceparent, row.options.tracestate},
                                SpanKind::kInternal, attributes);
  TraceContext context = span->context();
  row.options.traceparent = std::move(context.traceparent);
  row.options.tracestate = std::move(context.tracestate);
  return span;
}

absl::Status Coordinator::Impl::Submit(const TransGlobal& global, SubmitDone* async) {
  if (absl::Status s = Validate(global, /*prepare=*/false); !s.ok()) return s;
  if (!Enter()) return absl::UnavailableError("coordinator is shutting down");
  const absl::Time now = options_.clock->Now();
  TransGlobal row = NewRow(global, kStatusSubmitted, now);
  std::unique_ptr<Span> span = SpanOf("dtx submit", row);
  std::vector<TransBranch> branches = RowsOf(global, now);
  absl::Status created = store_.Create(row, branches);
  absl::Status answer;
  if (absl::IsAlreadyExists(created)) {
    Leave();
    answer = Resubmit(global, async);
  } else if (!created.ok()) {
    Leave();
    answer = created;
  } else {
    observer_.Changed(row.gid, row.trans_type, "", row.status, "");
    answer =
        Drive(std::move(row), std::move(branches), global.options.wait_result, async);
  }
  EndSpan(span.get(), answer);
  return answer;
}

// A gid that exists already: an ended one answers how it ended, one rolling back
// FAILURE (as DTM: it cannot be submitted any more); a prepared TCC or message is
// submitted; a submitted one gets its next pass now, unless another pass holds its
// lease (that pass carries on; a wait_result submit then answers ONGOING, as it cannot
// wait for a pass it does not run).
absl::Status Coordinator::Impl::Resubmit(const TransGlobal& global, SubmitDone* async) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    absl::StatusOr<TransGlobal> existing = store_.FindGlobal(global.gid);
    if (!existing.ok()) return existing.status();
    if (existing->trans_type != global.trans_type) {
      return FailureError(absl::StrCat("transaction ", global.gid, " is a ",
                                       existing->trans_type, ", not a ",
                                       internal::Excerpt(global.trans_type, 32)));
    }
    if (IsEnded(*existing)) return Ended(*existing);
    if (existing->status == kStatusAborting) {
      return FailureError(absl::StrCat("transaction ", global.gid,
                                       " is rolling back: ", existing->rollback_reason));
    }
    if (!Enter()) return absl::UnavailableError("coordinator is shutting down");
    const bool prepared = existing->status == kStatusPrepared;
    GlobalUpdate change;
    if (prepared) {
      change.status = std::string(kStatusSubmitted);
    } else {
      // Compare-and-set on an empty owner: a pass that holds the lease carries on.
      existing->owner.clear();
    }
    std::optional<absl::Status> s = ClaimAndDrive(*std::move(existing), std::move(change),
                                                  global.options.wait_result, async);
    if (s) return *s;
    if (!prepared) return HeldElsewhere(global.options.wait_result);
    // A prepared one moved on meanwhile (aborted, timed out): look again.
  }
  return absl::UnavailableError(
      absl::StrCat("transaction ", global.gid, " keeps changing"));
}

std::optional<absl::Status> Coordinator::Impl::ClaimAndDrive(TransGlobal existing,
                                                             GlobalUpdate change,
                                                             bool wait_result,
                                                             SubmitDone* async) {
  const absl::Time now = options_.clock->Now();
  change.owner = options_.owner;
  change.next_cron_time = now + options_.lease;
  absl::Status claimed =
      store_.Update(existing.gid, existing.status, existing.owner, {}, change, now);
  if (!claimed.ok()) {
    Leave();
    if (absl::IsAborted(claimed)) return std::nullopt;
    return claimed;
  }
  existing.owner = *change.owner;
  existing.next_cron_time = *change.next_cron_time;
  if (change.status) {
    observer_.Changed(existing.gid, existing.trans_type, existing.status, *change.status,
                      change.rollback_reason.value_or(""));
    existing.status = *change.status;
  }
  if (change.rollback_reason) existing.rollback_reason = *change.rollback_reason;
  absl::StatusOr<std::vector<TransBranch>> branches = store_.FindBranches(existing.gid);
  if (!branches.ok()) {
    Leave();  // the transaction stays leased; retried when the lease runs out
    return branches.status();
  }
  return Drive(std::move(existing), *std::move(branches), wait_result, async);
}

absl::Status Coordinator::Impl::Drive(TransGlobal&& claimed,
                                      std::vector<TransBranch>&& branches,
                                      bool wait_result, SubmitDone* async) {
  if (wait_result) return RunFirstPass(std::move(claimed), std::move(branches), async);
  pool_.Schedule(
      [this, claimed = std::move(claimed), branches = std::move(branches)]() mutable {
        RunPass(std::move(claimed), std::move(branches), /*scan=*/false, nullptr);
      });
  return absl::OkStatus();
}

absl::Status Coordinator::Impl::Prepare(const TransGlobal& global) {
  if (absl::Status s = Validate(global, /*prepare=*/true); !s.ok()) return s;
  if (!Enter()) return absl::UnavailableError("coordinator is shutting down");
  const absl::Time now = options_.clock->Now();
  TransGlobal row = NewRow(global, kStatusPrepared, now);
  std::unique_ptr<Span> span = SpanOf("dtx prepare", row);
  absl::Status created = store_.Create(row, RowsOf(global, now));
  if (created.ok()) observer_.Changed(row.gid, row.trans_type, "", row.status, "");
  Leave();
  EndSpan(span.get(), created);
  if (!absl::IsAlreadyExists(created)) return created;
  // Preparing again is fine while it is still prepared.
  absl::StatusOr<TransGlobal> existing = store_.FindGlobal(global.gid);
  if (!existing.ok()) return existing.status();
  if (existing->status == kStatusPrepared && existing->trans_type == global.trans_type) {
    return absl::OkStatus();
  }
  return FailureError(absl::StrCat("transaction ", global.gid, " is a ",
                                   existing->trans_type, " ", existing->status,
                                   ", not a prepared ",
                                   internal::Excerpt(global.trans_type, 32)));
}

absl::StatusOr<TransactionState> Coordinator::Impl::RowsToStore(const TransGlobal& global) {
  if (absl::Status s = Validate(global, /*prepare=*/false); !s.ok()) return s;
  if (global.trans_type == kTransTypeTcc) {
    return absl::InvalidArgumentError(
        "a TCC is started by its client (Prepare), not stored with a local transaction");
  }
  const absl::Time now = options_.clock->Now();
  TransactionState rows;
  rows.global = NewRow(global, kStatusSubmitted, now);
  // Nobody's, and due now: whichever coordinator looks first (Submit after the
  // commit, or the scan) drives it.
  rows.global.owner.clear();
  rows.global.next_cron_time = now;
  rows.branches = RowsOf(global, now);
  return rows;
}

absl::Status Coordinator::Impl::RegisterBranch(const TccBranch& b) {
  if (!IsValidGid(b.gid)) return absl::InvalidArgumentError("invalid gid");
  if (!IsValidBranchId(b.branch_id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid branch_id '", internal::Excerpt(b.branch_id, 32),
        "': use 1-128 characters of [A-Za-z0-9-_.]"));
  }
  absl::StatusOr<TransGlobal> global = store_.FindGlobal(b.gid);
  if (!global.ok()) return global.status();
  if (global->trans_type != kTransTypeTcc) {
    return FailureError(absl::StrCat("transaction ", b.gid, " is a ", global->trans_type,
                                     ": only a TCC registers branches"));
  }
  if (absl::Status s = CheckUrls(global->protocol, {&b.confirm, &b.cancel},
                                 global->options.branch_headers);
      !s.ok()) {
    return s;
  }
  const absl::Time now = options_.clock->Now();
  std::vector<TransBranch> rows(2);
  for (TransBranch& row : rows) {
    row.gid = b.gid;
    row.branch_id = b.branch_id;
    row.bin_data = b.data;
    row.status = std::string(kStatusPrepared);
    row.create_time = row.update_time = now;
  }
  rows[0].op = std::string(kOpCancel);
  rows[0].url = b.cancel;
  rows[1].op = std::string(kOpConfirm);
  rows[1].url = b.confirm;
  // As a saga's steps: at most max_steps branches (two rows each).
  absl::Status added = store_.AddBranches(
      b.gid, kStatusPrepared, rows, 2 * static_cast<size_t>(options_.max_steps), now);
  if (absl::IsAborted(added)) {
    return FailureError(absl::StrCat("registerBranch: ", added.message()));
  }
  if (absl::IsResourceExhausted(added)) {
    return absl::InvalidArgumentError(
        absl::StrCat("registerBranch: more than this coordinator's limit of ",
                     options_.max_steps, " branches"));
  }
  return added;
}

absl::Status Coordinator::Impl::Abort(const TransGlobal& global, SubmitDone* async) {
  if (!IsValidGid(global.gid)) return absl::InvalidArgumentError("invalid gid");
  for (int attempt = 0; attempt < 3; ++attempt) {
    absl::StatusOr<TransGlobal> existing = store_.FindGlobal(global.gid);
    if (!existing.ok()) return existing.status();
    if (!global.trans_type.empty() && existing->trans_type != global.trans_type) {
      return FailureError(absl::StrCat("transaction ", global.gid, " is a ",
                                       existing->trans_type, ", not a ",
                                       internal::Excerpt(global.trans_type, 32)));
    }
    const bool tcc = existing->trans_type == kTransTypeTcc;
    const bool msg = existing->trans_type == kTransTypeMsg;
    const bool prepared = existing->status == kStatusPrepared;
    const std::string reason =
        global.rollback_reason.empty() ? "aborted by the client" : global.rollback_reason;
    const absl::Time now = options_.clock->Now();
    if (msg && prepared) {
      // Nothing ran: the message is dropped at once.
      GlobalUpdate drop;
      drop.status = std::string(kStatusFailed);
      drop.rollback_reason = reason;
      drop.rollback_time = drop.finish_time = now;
      absl::Status s =
          store_.Update(global.gid, existing->status, existing->owner, {}, drop, now);
      if (s.ok()) {
        observer_.Changed(global.gid, existing->trans_type, existing->status,
                          kStatusFailed, reason);
      }
      if (!absl::IsAborted(s)) return s;
      continue;  // it moved on meanwhile: look again
    }
    if (!tcc || (!prepared && existing->status != kStatusAborting)) {
      return FailureError(absl::StrCat(
          "transaction ", global.gid, " is a ", existing->trans_type, " ",
          existing->status,
          ": only a prepared TCC or message, or a TCC rolling back, can be aborted"));
    }
    if (!Enter()) return absl::UnavailableError("coordinator is shutting down");
    GlobalUpdate change;
    if (prepared) {
      change.status = std::string(kStatusAborting);
      change.rollback_reason = reason;
      change.rollback_time = now;
    } else {
      existing->owner.clear();  // as Resubmit: a pass holding it carries on
    }
    // With wait_result, the first pass's outcome: `failed` is what was asked for.
    auto rolled_back = [](absl::Status s) { return IsFailure(s) ? absl::OkStatus() : s; };
    SubmitDone answer;
    if (async != nullptr && *async) {
      answer = [done = *async, rolled_back](absl::Status s) { done(rolled_back(s)); };
    }
    std::optional<absl::Status> s =
        ClaimAndDrive(*std::move(existing), std::move(change), global.options.wait_result,
                      async != nullptr ? &answer : nullptr);
    if (async != nullptr && !answer) *async = nullptr;  // the pass answers
    if (!s) {
      if (!prepared) return HeldElsewhere(global.options.wait_result);
      continue;  // it moved on meanwhile: look again
    }
    return rolled_back(*s);
  }
  return absl::UnavailableError(
      absl::StrCat("transaction ", global.gid, " keeps changing"));
}

void Coordinator::Impl::RunPass(TransGlobal&& claimed,
                                std::vector<TransBranch>&& branches, bool scan,
                                PassDone done, PassDone answer, CallRunner* runner) {
  const std::string gid = claimed.gid;
  using SteadyClock = std::chrono::steady_clock;
  const SteadyClock::time_point start =
      observer_.counting() ? SteadyClock::now() : SteadyClock::time_point();
  // The answer comes at the end, after the pass is counted and logged; under
  // answer_before_final_write, from the pass once the final status is decided
  // (`early`, which happens before the end), unless the pass ends first.
  engine::Pass::DoneCallback early;
  std::shared_ptr<PassDone> slot;
  if (answer && options_.answer_before_final_write) {
    slot = std::make_shared<PassDone>(std::move(answer));
    answer = nullptr;
    early = [slot](const TransGlobal& g, absl::Status error) {
      PassDone a = std::move(*slot);
      *slot = nullptr;
      std::move(a)(g, std::move(error));
    };
  }
  engine::Pass::DoneCallback on_end = [this, done = std::move(done),
                                       answer = std::move(answer), slot, gid, scan,
                                       start](const TransGlobal& g,
                                              absl::Status error) mutable {
    if (observer_.counting()) {
      observer_.PassEnded(
          scan, std::chrono::duration<double>(SteadyClock::now() - start).count());
    }
    if (!error.ok() && !absl::IsAborted(error)) {
      observer_.Error("pass stopped", absl::StatusCodeToString(error.code()),
                      {{"gid", gid}, {"error", error.ToString()}});
    }
    if (slot && *slot) {
      answer = std::move(*slot);
      *slot = nullptr;
    }
    if (answer) std::move(answer)(g, error);
    if (done) std::move(done)(g, error);
    Leave();
  };
  absl::StatusOr<std::shared_ptr<engine::Pass>> pass =
      engine::Pass::Create(context_, std::move(claimed), std::move(branches), runner,
                           std::move(on_end), std::move(early));
  if (!pass.ok()) {
    // Unreadable rows: the transaction stays leased; an operator must look at it.
    // on_end was not taken: it answers, logs and gives the slot back.
    TransGlobal unknown;
    unknown.gid = gid;
    std::move(on_end)(unknown, pass.status());
    return;
  }
  (*pass)->Start();
}

absl::Status Coordinator::Impl::RunFirstPass(TransGlobal&& claimed,
                                             std::vector<TransBranch>&& branches,
                                             SubmitDone* async) {
  if (async != nullptr) {
    SubmitDone done = std::move(*async);
    *async = nullptr;
    RunPass(std::move(claimed), std::move(branches), /*scan=*/false, nullptr,
            [done = std::move(done)](const TransGlobal& g, absl::Status error) {
              done(Outcome(g, error));
            });
    return absl::OkStatus();
  }
  absl::Notification finished;
  absl::Status outcome;
  // This thread only waits: it makes the pass's blocking branch calls itself.
  internal::CallerRuns here;
  RunPass(
      std::move(claimed), std::move(branches), /*scan=*/false, nullptr,
      [&](const TransGlobal& g, absl::Status error) {
        outcome = Outcome(g, error);
        finished.Notify();
      },
      &here);
  here.RunUntil(finished);
  return outcome;
}

absl::StatusOr<TransactionState> Coordinator::Impl::Query(std::string_view gid) {
  if (!IsValidGid(gid)) return absl::InvalidArgumentError("invalid gid");
  TransactionState state;
  absl::StatusOr<TransGlobal> global = store_.FindGlobal(gid);
  if (!global.ok()) return global.status();
  state.global = *std::move(global);
  absl::StatusOr<std::vector<TransBranch>> branches = store_.FindBranches(gid);
  if (!branches.ok()) return branches.status();
  state.branches = *std::move(branches);
  return state;
}

absl::StatusOr<int> Coordinator::Impl::ClaimAndRun(PassCounter* counter) {
  const absl::Time now = options_.clock->Now();
  absl::StatusOr<std::vector<TransGlobal>> claimed =
      store_.ClaimDue(now, now + options_.lease, options_.owner, options_.claim_batch);
  if (!claimed.ok()) return claimed.status();
  for (TransGlobal& g : *claimed) {
    if (!g.taken_from.empty()) observer_.TakenOver(g);
    // On any error below the transaction stays leased and is retried when it runs out.
    absl::StatusOr<std::vector<TransBranch>> branches = store_.FindBranches(g.gid);
    if (!branches.ok()) return branches.status();
    if (!Enter()) return absl::UnavailableError("coordinator is shutting down");
    PassDone done;
    if (counter != nullptr) {
      counter->Add(1);
      done = [counter](const TransGlobal&, absl::Status) { counter->Add(-1); };
    }
    RunPass(std::move(g), *std::move(branches), /*scan=*/true, std::move(done));
  }
  return static_cast<int>(claimed->size());
}

absl::StatusOr<int> Coordinator::Impl::RunDue() {
  int total = 0;
  while (true) {
    PassCounter counter;
    absl::StatusOr<int> claimed = ClaimAndRun(&counter);
    counter.WaitForZero();
    if (!claimed.ok()) return claimed.status();
    total += *claimed;
    if (*claimed < options_.claim_batch) return total;
  }
}

absl::Status Coordinator::Impl::Operate(std::string_view gid, const GlobalUpdate& update,
                                        bool only_if_idle) {
  if (!IsValidGid(gid)) return absl::InvalidArgumentError("invalid gid");
  for (int attempt = 0; attempt < 10; ++attempt) {
    absl::StatusOr<TransGlobal> g = store_.FindGlobal(gid);
    if (!g.ok()) return g.status();
    if (IsEnded(*g)) {
      return FailureError(
          absl::StrCat("transaction ", std::string(gid), " already ended: ", g->status));
    }
    const absl::Time now = options_.clock->Now();
    if (only_if_idle && !g->owner.empty() && g->next_cron_time > now) {
      return absl::OkStatus();  // a pass holds the lease and is driving it
    }
    absl::Status s = store_.Update(gid, g->status, g->owner, {}, update, now);
    if (s.ok() && update.status) {
      observer_.Changed(gid, g->trans_type, g->status, *update.status,
                        update.rollback_reason.value_or(""));
    }
    if (!absl::IsAborted(s)) return s;  // aborted: it moved on meanwhile; look again
  }
  return absl::UnavailableError(
      absl::StrCat("transaction ", std::string(gid), " keeps changing"));
}

absl::StatusOr<int> Coordinator::Impl::PurgeFinished() {
  if (options_.retention <= absl::ZeroDuration()) return 0;
  const absl::Time cutoff = options_.clock->Now() - options_.retention;
  const int batch = std::max(1, options_.retention_batch);
  int total = 0;
  for (int round = 0; round < 1000; ++round) {  // bounded: a sweep never runs away
    absl::StatusOr<int> n = store_.DeleteFinished(cutoff, batch);
    if (!n.ok()) return n.status();
    total += *n;
    if (*n < batch) break;
  }
  return total;
}

void Coordinator::Impl::PollLoop() {
  absl::Time last_purge = absl::InfinitePast();
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.poll_interval)) {
        return;
      }
    }
    absl::StatusOr<int> n = ClaimAndRun(nullptr);
    if (!n.ok()) {
      observer_.Error("scan failed", absl::StatusCodeToString(n.status().code()),
                      {{"error", n.status().ToString()}});
    }
    if (options_.retention > absl::ZeroDuration() &&
        absl::Now() - last_purge > absl::Minutes(1)) {
      last_purge = absl::Now();
      absl::StatusOr<int> purged = PurgeFinished();
      if (!purged.ok()) {
        observer_.Error("retention failed", "", {{"error", purged.status().ToString()}});
      }
    }
  }
}

std::vector<Metric> Coordinator::Impl::Metrics() {
  std::vector<Metric> out;
  observer_.Collect(out);
  const absl::Time now = options_.clock->Now();
  absl::StatusOr<int64_t> unfinished =
      options_.store->CountUnfinished(absl::InfiniteFuture());
  absl::StatusOr<int64_t> stuck =
      unfinished.ok() ? options_.store->CountUnfinished(now - options_.stuck_after)
                      : unfinished.status();
  if (unfinished.ok() && stuck.ok()) {
    Metric& u = out.emplace_back();
    u.name = "dtx_transactions_unfinished";
    u.help = "Transactions in the store not ended yet (prepared, submitted, aborting).";
    u.type = MetricType::kGauge;
    u.samples.emplace_back().value = static_cast<double>(*unfinished);
    Metric& s = out.emplace_back();
    s.name = "dtx_transactions_stuck";
    s.help = absl::StrCat("Unfinished transactions created more than ",
                          absl::FormatDuration(options_.stuck_after), " ago.");
    s.type = MetricType::kGauge;
    s.samples.emplace_back().value = static_cast<double>(*stuck);
  }
  options_.store->CollectMetrics(out);
  return out;
}

void Coordinator::Impl::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  {
    absl::MutexLock lock(&join_mu_);
    if (poller_.joinable()) poller_.join();
  }
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* active) { return *active == 0; }, &active_));
}

Coordinator::Coordinator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Coordinator::~Coordinator() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Start(
    CoordinatorOptions options) {
  if (options.store == nullptr)
    return absl::InvalidArgumentError("options.store is required");
  return std::unique_ptr<Coordinator>(
      new Coordinator(std::make_unique<Impl>(std::move(options))));
}

absl::Status Coordinator::Submit(const TransGlobal& global) {
  return impl_->Submit(global);
}

void Coordinator::Submit(const TransGlobal& global, SubmitDone done) {
  if (!global.options.wait_result) {
    done(impl_->Submit(global));
    return;
  }
  // Taken by a first pass that started (it answers), or left for the answer here.
  absl::Status now = impl_->Submit(global, &done);
  if (done) done(std::move(now));
}

absl::Status Coordinator::Prepare(const TransGlobal& global) {
  return impl_->Prepare(global);
}

absl::StatusOr<TransactionState> Coordinator::RowsToStore(const TransGlobal& global) {
  return impl_->RowsToStore(global);
}

absl::Status Coordinator::RegisterBranch(const TccBranch& branch) {
  return impl_->RegisterBranch(branch);
}

absl::Status Coordinator::Abort(const TransGlobal& global) { return impl_->Abort(global); }

void Coordinator::Abort(const TransGlobal& global, SubmitDone done) {
  if (!global.options.wait_result) {
    done(impl_->Abort(global));
    return;
  }
  absl::Status now = impl_->Abort(global, &done);
  if (done) done(std::move(now));
}

absl::StatusOr<TransactionState> Coordinator::Query(std::string_view gid) {
  return impl_->Query(gid);
}

absl::StatusOr<int> Coordinator::RunDue() { return impl_->RunDue(); }

absl::Status Coordinator::ForceStop(std::string_view gid) {
  GlobalUpdate stop;
  stop.status = std::string(kStatusFailed);
  stop.rollback_reason = "force stopped";
  stop.finish_time = impl_->options().clock->Now();
  return impl_->Operate(gid, stop, /*only_if_idle=*/false);
}

absl::Status Coordinator::RetryNow(std::string_view gid) {
  GlobalUpdate now;
  now.owner = std::string();
  now.next_cron_time = impl_->options().clock->Now();
  return impl_->Operate(gid, now, /*only_if_idle=*/true);
}

absl::StatusOr<std::vector<TransGlobal>> Coordinator::ListStuck(absl::Duration older_than,
                                                                int limit) {
  return impl_->options().store->ListUnfinished(
      impl_->options().clock->Now() - older_than, limit);
}

absl::StatusOr<int> Coordinator::PurgeFinished() { return impl_->PurgeFinished(); }

absl::StatusOr<std::vector<TransGlobal>> Coordinator::List(int64_t before_id,
                                                           std::string_view status,
                                                           std::string_view trans_type,
                                                           int limit) {
  return impl_->options().store->List(before_id, status, trans_type, limit);
}

std::vector<Metric> Coordinator::Metrics() { return impl_->Metrics(); }

void Coordinator::Shutdown() { impl_->Shutdown(); }

}  // namespace dtx
