#include "dtx/coordinator.h"

#include <cstdio>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "dtx/gid.h"
#include "dtx/result.h"
#include "internal/caller_runs.h"
#include "internal/saga_pass.h"
#include "internal/text_rules.h"
#include "internal/thread_pool.h"

namespace dtx {

class Coordinator::Impl {
 public:
  explicit Impl(CoordinatorOptions options);
  ~Impl() { Shutdown(); }

  // With `async`, a wait_result submit whose first pass starts takes *async (leaving
  // it empty) and answers through it once that pass ends, from a thread of the pass;
  // whatever else happens is answered here, *async left as it was.
  absl::Status Submit(const TransGlobal& global, SubmitDone* async = nullptr);
  absl::StatusOr<TransactionState> Query(std::string_view gid);
  absl::StatusOr<int> RunDue();
  void Shutdown();
  // Applies `update` to an unfinished transaction by compare-and-set on its current
  // (status, owner), retrying when a pass moved it on meanwhile. `only_if_idle`: leave
  // a transaction that a pass holds alone (answer OK).
  absl::Status Operate(std::string_view gid, const GlobalUpdate& update,
                       bool only_if_idle);
  absl::StatusOr<int> PurgeFinished();

  const CoordinatorOptions& options() const { return options_; }

 private:
  using PassDone = absl::AnyInvocable<void(const TransGlobal&, absl::Status) &&>;

  absl::Status Validate(const TransGlobal& global) const;
  absl::Status Resubmit(const TransGlobal& global, SubmitDone* async);
  // The first pass of a wait_result submit: here, waiting for it; or, with `async`,
  // in the background, answering *async (taken) when it ends.
  absl::Status RunFirstPass(TransGlobal claimed, std::vector<TransBranch> branches,
                            SubmitDone* async);
  // Runs one pass over a transaction this coordinator has claimed. REQUIRES: a slot
  // taken with Enter(); the pass gives it back when it ends.
  void RunPass(TransGlobal claimed, std::vector<TransBranch> branches, PassDone done);
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
  internal::PassContext context_;
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
  if (g.status == kStatusFailed || g.status == kStatusAborting) {
    return FailureError(g.rollback_reason);
  }
  if (!error.ok()) {
    return OngoingError(
        absl::StrCat("wait result not return success: ", error.ToString()));
  }
  return OngoingError("wait result not return success");
}

void Log(const std::string& line) { std::fprintf(stderr, "dtx: %s\n", line.c_str()); }

}  // namespace

Coordinator::Impl::Impl(CoordinatorOptions options)
    : options_(WithDefaults(std::move(options))),
      limiter_(options_.max_calls_in_flight),
      rng_(std::random_device{}()),
      pool_(options_.worker_threads) {
  context_.store = options_.store;
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

absl::Status Coordinator::Impl::Validate(const TransGlobal& g) const {
  if (!IsValidGid(g.gid)) {
    return absl::InvalidArgumentError(
        g.gid.empty() ? std::string("missing gid")
                      : absl::StrCat("invalid gid '", internal::Excerpt(g.gid, 64),
                                     "': use 1-128 characters of [A-Za-z0-9-_.~:]"));
  }
  if (g.trans_type != kTransTypeSaga) {
    return absl::UnimplementedError(
        absl::StrCat("trans_type '", internal::Excerpt(g.trans_type, 32),
                     "' is not supported yet: dtx drives sagas only so far"));
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
  absl::StatusOr<SagaOrders> orders =
      ParseSagaOrders(g.custom_data, static_cast<int>(g.steps.size()));
  if (!orders.ok()) return orders.status();
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
  const Transport* transport = nullptr;
  for (const SagaStep& s : g.steps) {
    for (const std::string* url : {&s.action, &s.compensate}) {
      if (url->empty()) continue;
      if (transport == nullptr) {
        auto it = options_.transports.find(g.protocol);
        if (it == options_.transports.end()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "no transport for protocol '", internal::Excerpt(g.protocol, 32), "'"));
        }
        transport = it->second;
      }
      if (absl::Status s = transport->CheckBranch(*url, g.options.branch_headers);
          !s.ok()) {
        return absl::InvalidArgumentError(s.message());
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Coordinator::Impl::Submit(const TransGlobal& global, SubmitDone* async) {
  if (absl::Status s = Validate(global); !s.ok()) return s;
  if (!Enter()) return absl::UnavailableError("coordinator is shutting down");

  const absl::Time now = options_.clock->Now();
  TransGlobal row;  // what the global row holds: no steps or payloads
  row.gid = global.gid;
  row.trans_type = global.trans_type;
  row.protocol = global.protocol;
  row.custom_data = global.custom_data;
  row.query_prepared = global.query_prepared;
  row.options = global.options;
  row.status = std::string(kStatusSubmitted);
  row.owner = options_.owner;
  row.create_time = row.update_time = now;
  row.next_cron_time = now + options_.lease;
  row.next_cron_interval = absl::ZeroDuration();
  row.retry_count = 0;
  row.finish_time = row.rollback_time = absl::InfinitePast();
  row.rollback_reason.clear();
  row.result.clear();

  std::vector<TransBranch> branches;
  branches.reserve(global.steps.size() * 2);
  for (size_t i = 0; i < global.steps.size(); ++i) {
    TransBranch b;
    b.gid = global.gid;
    b.branch_id = absl::StrFormat("%02d", i + 1);
    b.bin_data = i < global.payloads.size() ? global.payloads[i] : std::string();
    b.status = std::string(kStatusPrepared);
    b.create_time = b.update_time = now;
    b.op = std::string(kOpCompensate);
    b.url = global.steps[i].compensate;
    branches.push_back(b);
    b.op = std::string(kOpAction);
    b.url = global.steps[i].action;
    branches.push_back(std::move(b));
  }

  absl::Status created = options_.store->Create(row, branches);
  if (absl::IsAlreadyExists(created)) {
    Leave();
    return Resubmit(global, async);
  }
  if (!created.ok()) {
    Leave();
    return created;
  }
  if (global.options.wait_result)
    return RunFirstPass(std::move(row), std::move(branches), async);
  pool_.Schedule([this, row = std::move(row), branches = std::move(branches)]() mutable {
    RunPass(std::move(row), std::move(branches), nullptr);
  });
  return absl::OkStatus();
}

// A gid that exists already: an ended one is FAILURE; an unfinished one gets its next
// pass now, unless another pass holds its lease (that pass carries on).
absl::Status Coordinator::Impl::Resubmit(const TransGlobal& global, SubmitDone* async) {
  absl::StatusOr<TransGlobal> existing = options_.store->FindGlobal(global.gid);
  if (!existing.ok()) return existing.status();
  if (existing->status == kStatusSucceed || existing->status == kStatusFailed) {
    return FailureError(
        absl::StrCat("transaction ", global.gid, " already ended: ", existing->status));
  }
  if (!Enter()) return absl::UnavailableError("coordinator is shutting down");
  const absl::Time now = options_.clock->Now();
  GlobalUpdate claim;
  claim.owner = options_.owner;
  claim.next_cron_time = now + options_.lease;
  absl::Status claimed = options_.store->Update(global.gid, existing->status,
                                                /*expected_owner=*/"", {}, claim, now);
  if (!claimed.ok()) {
    Leave();
    return absl::IsAborted(claimed) ? absl::OkStatus() : claimed;
  }
  existing->owner = *claim.owner;
  existing->next_cron_time = *claim.next_cron_time;
  absl::StatusOr<std::vector<TransBranch>> branches =
      options_.store->FindBranches(global.gid);
  if (!branches.ok()) {
    Leave();
    return branches.status();
  }
  if (global.options.wait_result) {
    return RunFirstPass(*std::move(existing), *std::move(branches), async);
  }
  RunPass(*std::move(existing), *std::move(branches), nullptr);
  return absl::OkStatus();
}

void Coordinator::Impl::RunPass(TransGlobal claimed, std::vector<TransBranch> branches,
                                PassDone done) {
  const std::string gid = claimed.gid;
  auto on_end = [this, done = std::move(done), gid](const TransGlobal& g,
                                                    absl::Status error) mutable {
    if (!error.ok() && !absl::IsAborted(error)) {
      Log(absl::StrCat("pass over ", gid, " stopped: ", error.ToString()));
    }
    if (done) std::move(done)(g, error);
    Leave();
  };
  absl::StatusOr<std::shared_ptr<internal::SagaPass>> pass = internal::SagaPass::Create(
      context_, std::move(claimed), std::move(branches), std::move(on_end));
  if (!pass.ok()) {
    // Unreadable rows: leave the transaction leased; an operator must look at it.
    Log(absl::StrCat("cannot drive ", gid, ": ", pass.status().ToString()));
    TransGlobal unknown;
    unknown.gid = gid;
    if (done) std::move(done)(unknown, pass.status());
    Leave();
    return;
  }
  (*pass)->Start();
}

absl::Status Coordinator::Impl::RunFirstPass(TransGlobal claimed,
                                             std::vector<TransBranch> branches,
                                             SubmitDone* async) {
  if (async != nullptr) {
    SubmitDone done = std::move(*async);
    *async = nullptr;
    RunPass(std::move(claimed), std::move(branches),
            [done = std::move(done)](const TransGlobal& g, absl::Status error) {
              done(Outcome(g, error));
            });
    return absl::OkStatus();
  }
  absl::Notification finished;
  absl::Status outcome;
  // This thread only waits: it makes the pass's blocking branch calls itself.
  internal::CallerRuns here;
  RunPass(std::move(claimed), std::move(branches),
          [&](const TransGlobal& g, absl::Status error) {
            outcome = Outcome(g, error);
            finished.Notify();
          });
  here.RunUntil(finished);
  return outcome;
}

absl::StatusOr<TransactionState> Coordinator::Impl::Query(std::string_view gid) {
  if (!IsValidGid(gid)) return absl::InvalidArgumentError("invalid gid");
  TransactionState state;
  absl::StatusOr<TransGlobal> global = options_.store->FindGlobal(gid);
  if (!global.ok()) return global.status();
  state.global = *std::move(global);
  absl::StatusOr<std::vector<TransBranch>> branches = options_.store->FindBranches(gid);
  if (!branches.ok()) return branches.status();
  state.branches = *std::move(branches);
  return state;
}

absl::StatusOr<int> Coordinator::Impl::ClaimAndRun(PassCounter* counter) {
  const absl::Time now = options_.clock->Now();
  absl::StatusOr<std::vector<TransGlobal>> claimed = options_.store->ClaimDue(
      now, now + options_.lease, options_.owner, options_.claim_batch);
  if (!claimed.ok()) return claimed.status();
  for (TransGlobal& g : *claimed) {
    // On any error below the transaction stays leased and is retried when it runs out.
    absl::StatusOr<std::vector<TransBranch>> branches =
        options_.store->FindBranches(g.gid);
    if (!branches.ok()) return branches.status();
    if (!Enter()) return absl::UnavailableError("coordinator is shutting down");
    PassDone done;
    if (counter != nullptr) {
      counter->Add(1);
      done = [counter](const TransGlobal&, absl::Status) { counter->Add(-1); };
    }
    RunPass(std::move(g), *std::move(branches), std::move(done));
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
    absl::StatusOr<TransGlobal> g = options_.store->FindGlobal(gid);
    if (!g.ok()) return g.status();
    if (g->status == kStatusSucceed || g->status == kStatusFailed) {
      return FailureError(
          absl::StrCat("transaction ", std::string(gid), " already ended: ", g->status));
    }
    const absl::Time now = options_.clock->Now();
    if (only_if_idle && !g->owner.empty() && g->next_cron_time > now) {
      return absl::OkStatus();  // a pass holds the lease and is driving it
    }
    absl::Status s = options_.store->Update(gid, g->status, g->owner, {}, update, now);
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
    absl::StatusOr<int> n = options_.store->DeleteFinished(cutoff, batch);
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
      Log(absl::StrCat("scan for due transactions failed: ", n.status().ToString()));
    }
    if (options_.retention > absl::ZeroDuration() &&
        absl::Now() - last_purge > absl::Minutes(1)) {
      last_purge = absl::Now();
      absl::StatusOr<int> purged = PurgeFinished();
      if (!purged.ok()) Log("retention sweep failed: " + purged.status().ToString());
    }
  }
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
                                                           int limit) {
  return impl_->options().store->List(before_id, status, limit);
}

void Coordinator::Shutdown() { impl_->Shutdown(); }

}  // namespace dtx
