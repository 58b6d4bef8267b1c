#include "engine/pass.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "dtx/result.h"
#include "internal/text_rules.h"

namespace dtx::engine {
namespace {

// A lease is renewed when less than this is left after the longest call could end.
constexpr absl::Duration kLeaseMargin = absl::Seconds(1);

}  // namespace

absl::StatusOr<Trans> TransOf(const TransGlobal& g, const CoordinatorOptions& options) {
  Trans t;
  t.gid = g.gid;
  std::optional<Mode> mode = ParseMode(g.trans_type);
  std::optional<Status> status = ParseStatus(g.status);
  if (!mode || !status) {
    return absl::InternalError(absl::StrCat(
        "transaction ", g.gid, " has trans_type '", internal::Excerpt(g.trans_type, 32),
        "' and status '", internal::Excerpt(g.status, 32),
        "': not one this coordinator drives"));
  }
  t.mode = *mode;
  t.status = *status;
  t.create_time = g.create_time;
  t.timeout_to_fail = g.options.timeout_to_fail;
  if (t.timeout_to_fail <= absl::ZeroDuration() && t.mode != Mode::kSaga) {
    t.timeout_to_fail = options.timeout_to_fail;
  }
  t.retry_limit = g.options.retry_limit;
  t.retry_count = g.retry_count;
  t.custom_data = g.custom_data;
  t.query_prepared = g.query_prepared;
  return t;
}

absl::StatusOr<std::vector<Branch>> BranchesOf(std::vector<TransBranch> rows) {
  std::vector<Branch> branches;
  branches.reserve(rows.size());
  for (TransBranch& row : rows) {
    std::optional<Op> op = ParseOp(row.op);
    std::optional<Status> status = ParseStatus(row.status);
    if (!op || !status) {
      return absl::InternalError(absl::StrCat(
          "transaction ", row.gid, " branch ", internal::Excerpt(row.branch_id, 32),
          " has op '", internal::Excerpt(row.op, 32), "' and status '",
          internal::Excerpt(row.status, 32), "'"));
    }
    Branch b;
    b.branch_id = std::move(row.branch_id);
    b.op = *op;
    b.status = *status;
    b.url = std::move(row.url);
    b.payload = std::move(row.bin_data);
    branches.push_back(std::move(b));
  }
  return branches;
}

Pass::Pass(const PassContext& ctx, TransGlobal&& global, std::unique_ptr<Machine> machine,
           CallRunner* runner, DoneCallback done, DoneCallback early)
    : ctx_(ctx),
      global_(std::move(global)),
      machine_(std::move(machine)),
      runner_(runner),
      done_(std::move(done)),
      early_(std::move(early)),
      lease_until_(global_.next_cron_time) {
  // The branch rows hold the steps and payloads.
  global_.steps = {};
  global_.payloads = {};
}

absl::StatusOr<std::shared_ptr<Pass>> Pass::Create(
    const PassContext& ctx, TransGlobal&& global, std::vector<TransBranch>&& rows,
    CallRunner* runner, DoneCallback&& done, DoneCallback&& early) {
  absl::StatusOr<Trans> trans = TransOf(global, *ctx.options);
  if (!trans.ok()) return trans.status();
  absl::StatusOr<std::vector<Branch>> branches = BranchesOf(std::move(rows));
  if (!branches.ok()) return branches.status();
  absl::StatusOr<std::unique_ptr<Machine>> machine =
      Machine::Create(*std::move(trans), *std::move(branches));
  if (!machine.ok()) return machine.status();
  return std::shared_ptr<Pass>(new Pass(ctx, std::move(global), *std::move(machine),
                                        runner, std::move(done), std::move(early)));
}

absl::Duration Pass::RequestTimeout() const {
  return global_.options.request_timeout > absl::ZeroDuration()
             ? global_.options.request_timeout
             : ctx_.options->request_timeout;
}

void Pass::Start() {
  if (Tracer* tracer = ctx_.observer->tracer()) {
    const LogField attributes[] = {{"dtx.gid", global_.gid},
                                   {"dtx.trans_type", global_.trans_type},
                                   {"dtx.status", global_.status}};
    span_ = tracer->Start("dtx pass",
                          {global_.options.traceparent, global_.options.tracestate},
                          SpanKind::kInternal, attributes);
  }
  {
    absl::MutexLock lock(&mu_);
    driving_ = true;
  }
  Drive();
}

void Pass::Post(Answer answer) {
  {
    absl::MutexLock lock(&mu_);
    inbox_.push_back(std::move(answer));
    if (driving_) return;  // the driver will pick it up
    driving_ = true;
  }
  Drive();
}

void Pass::Drive() {
  std::shared_ptr<Pass> self = shared_from_this();  // live until we return
  while (Advance()) {
    absl::MutexLock lock(&mu_);
    if (inbox_.empty()) {
      driving_ = false;
      return;
    }
  }
}

bool Pass::Advance() {
  while (true) {
    std::vector<Answer> batch;
    {
      absl::MutexLock lock(&mu_);
      batch.swap(inbox_);
    }
    if (ended_) return false;

    // 1. The answers, into the machine (in memory; stored with the next write).
    for (Answer& answer : batch) {
      // Metrics want every call; the log only calls that answered an error.
      if (answer.seconds >= 0 && (ctx_.observer->counting() ||
                                  (!answer.status.ok() && !IsFailure(answer.status) &&
                                   !IsOngoing(answer.status)))) {
        Observe(answer);
      }
      machine_->Answer(answer.branch, answer.status);
    }
    if (!store_error_.ok()) {  // draining after a failed write
      if (machine_->in_flight() > 0) return true;
      End(store_error_);
      return false;
    }

    // 2. A change of status the machine decides, written with the answers and, when
    // the calls to come could outlast it, a longer lease.
    const absl::Time now = ctx_.options->clock->Now();
    const std::optional<Transition> t = machine_->Decide(now);
    GlobalUpdate update;
    if (t) {
      update.status = std::string(Name(t->to));
      if (t->to == Status::kAborting) {
        update.rollback_time = now;
        update.retry_count = machine_->trans().retry_count;
      }
      if (!t->reason.empty()) update.rollback_reason = t->reason;
      if (IsFinal(t->to)) update.finish_time = now;
    }
    const bool final_now = t && IsFinal(t->to);
    if (!final_now && !IsFinal(machine_->trans().status) &&
        now + RequestTimeout() + kLeaseMargin > lease_until_) {
      // Long enough for any call issued below to end under it, however the lease and
      // request_timeout compare: another coordinator must not call the same branches
      // while these calls are still out.
      lease_until_ = now + std::max(ctx_.options->lease, RequestTimeout() + kLeaseMargin);
      update.next_cron_time = lease_until_;
    }
    // Relaxed (the option says what it risks): the answer now, the write lazy. (No
    // machine decides a final status with a call out; were one to, the strict way
    // below would wait for the call.)
    if (final_now && ctx_.options->answer_before_final_write &&
        machine_->in_flight() == 0) {
      update.lazy = true;
      if (early_) {
        TransGlobal decided = global_;
        Apply(update, decided);
        std::move(early_)(decided, absl::OkStatus());
        early_ = nullptr;
      }
      // No call is made after a final status: the runner (a caller's thread, which
      // may return now) is not needed again.
      runner_ = nullptr;
      WriteFinal(std::move(update), *t, now);
      return false;
    }
    // Branch results alone are not written: they ride with the next change of the
    // global row (a status, a lease renewal, or the end of the pass). Until then a
    // crash loses at most answers, and their branches are called again, which they
    // must absorb anyway (their barrier does).
    if (update.status || update.next_cron_time) {
      if (!Write(update, now).ok()) {
        if (machine_->in_flight() > 0) return true;
        End(store_error_);
        return false;
      }
      if (t) {
        const Status from = machine_->trans().status;
        machine_->Committed(*t);
        if (from == Status::kPrepared && machine_->trans().mode == Mode::kTcc &&
            !Reload().ok()) {
          End(store_error_);
          return false;
        }
      }
    }

    // 3. The calls the machine asks for, up to max_calls_per_transaction in flight;
    // the rest as answers come back.
    const int budget = ctx_.options->max_calls_per_transaction - machine_->in_flight();
    for (int branch : machine_->Calls(now, budget)) Issue(branch);

    {
      absl::MutexLock lock(&mu_);
      if (!inbox_.empty()) continue;
    }
    if (machine_->in_flight() > 0) return true;

    // 4. Nothing in flight and nothing to call: the pass is over.
    if (IsFinal(machine_->trans().status)) {
      End(absl::OkStatus());
      return false;
    }
    if (t) continue;  // a status just changed: look again before leaving
    const std::optional<Rest> rest = machine_->Idle(now);
    if (!rest) continue;
    absl::Status written = Write(Schedule(*rest, now), now);
    End(written);
    return false;
  }
}

void Pass::WriteFinal(GlobalUpdate update, const Transition& t, absl::Time now) {
  TakeResults();
  ctx_.store->UpdateAsync(global_.gid, global_.status, ctx_.owner, results_, update, now,
                          [self = shared_from_this(), update, t](absl::Status written) {
                            if (!written.ok()) {
                              self->store_error_ = written;
                              self->End(std::move(written));
                              return;
                            }
                            self->Wrote(update);
                            self->machine_->Committed(t);
                            self->End(absl::OkStatus());
                          });
}

absl::Status Pass::Reload() {
  absl::StatusOr<std::vector<TransBranch>> rows = ctx_.store->FindBranches(global_.gid);
  absl::StatusOr<std::vector<Branch>> branches =
      rows.ok() ? BranchesOf(*std::move(rows)) : rows.status();
  absl::StatusOr<std::unique_ptr<Machine>> machine =
      branches.ok() ? Machine::Create(machine_->trans(), *std::move(branches))
                    : branches.status();
  if (!machine.ok()) {
    store_error_ = machine.status();
    return store_error_;
  }
  machine_ = *std::move(machine);
  return absl::OkStatus();
}

void Pass::TakeResults() {
  results_.clear();
  for (int i : machine_->TakeChanged()) {
    const Branch& b = machine_->branches()[i];
    BranchUpdate& r = results_.emplace_back();
    r.branch_id = b.branch_id;
    const absl::string_view op = Name(b.op), status = Name(b.status);
    r.op.assign(op.data(), op.size());
    r.status.assign(status.data(), status.size());
  }
}

absl::Status Pass::Write(const GlobalUpdate& update, absl::Time now) {
  TakeResults();
  absl::Status written =
      ctx_.store->Update(global_.gid, global_.status, ctx_.owner, results_, update, now);
  if (!written.ok()) {
    store_error_ = written;
    return written;
  }
  Wrote(update);
  return absl::OkStatus();
}

void Pass::Wrote(const GlobalUpdate& update) {
  if (update.status) {
    ctx_.observer->Changed(global_.gid, global_.trans_type, global_.status,
                           *update.status, update.rollback_reason.value_or(""));
  }
  Apply(update, global_);
}

void Pass::Apply(const GlobalUpdate& update, TransGlobal& global) {
  if (update.status) global.status = *update.status;
  if (update.owner) global.owner = *update.owner;
  if (update.rollback_reason) global.rollback_reason = *update.rollback_reason;
  if (update.finish_time) global.finish_time = *update.finish_time;
  if (update.rollback_time) global.rollback_time = *update.rollback_time;
  if (update.next_cron_time) global.next_cron_time = *update.next_cron_time;
  if (update.next_cron_interval) global.next_cron_interval = *update.next_cron_interval;
  if (update.retry_count) global.retry_count = *update.retry_count;
  if (update.result) global.result = *update.result;
}

GlobalUpdate Pass::Schedule(const Rest& rest, absl::Time now) const {
  const CoordinatorOptions& o = *ctx_.options;
  GlobalUpdate schedule;
  schedule.owner = std::string();
  schedule.retry_count = machine_->trans().retry_count;
  schedule.result = machine_->last_error();
  if (!rest.retry) {
    // A deadline or delay of the mode, looked at again at least every max_backoff.
    schedule.next_cron_time = std::clamp(rest.not_after, now, now + o.max_backoff);
    return schedule;
  }
  const absl::Duration base = global_.options.retry_interval > absl::ZeroDuration()
                                  ? global_.options.retry_interval
                                  : o.retry_interval;
  absl::Duration interval = base;
  if (machine_->saw_error() && !machine_->progressed() &&
      global_.next_cron_interval > absl::ZeroDuration()) {
    interval = global_.next_cron_interval * 2;
  }
  interval = std::min(interval, o.max_backoff);
  const absl::Time next = now + interval * (1.0 + o.backoff_jitter * ctx_.random());
  schedule.next_cron_time = std::min(next, rest.not_after);
  schedule.next_cron_interval = interval;
  return schedule;
}

void Pass::Issue(int branch) {
  BranchRequest request;
  if (branch == kQueryPrepared) {
    request.url = global_.query_prepared;
    request.branch_id = std::string(kQueryPreparedBranchId);
    request.op = std::string(kQueryPreparedOp);
  } else {
    const Branch& b = machine_->branches()[branch];
    request.url = b.url;
    request.branch_id = b.branch_id;
    request.op = std::string(Name(b.op));
    request.payload = b.payload;
  }
  if (request.url.empty()) {  // an empty URL always succeeds
    absl::MutexLock lock(&mu_);
    inbox_.push_back({branch, absl::OkStatus()});
    return;
  }
  auto transport = ctx_.options->transports.find(global_.protocol);
  if (transport == ctx_.options->transports.end()) {
    absl::MutexLock lock(&mu_);
    inbox_.push_back(
        {branch, absl::InvalidArgumentError(absl::StrCat("no transport for protocol '",
                                                         global_.protocol, "'"))});
    return;
  }
  request.gid = global_.gid;
  request.trans_type = global_.trans_type;
  request.headers = global_.options.branch_headers;
  request.timeout = RequestTimeout();
  request.runner = runner_;
  // The branch joins the transaction's trace: as a child of this call's span with a
  // tracer, else of the submitter's span.
  std::unique_ptr<Span> span;
  if (Tracer* tracer = ctx_.observer->tracer()) {
    const LogField attributes[] = {{"dtx.gid", request.gid},
                                   {"dtx.branch_id", request.branch_id},
                                   {"dtx.op", request.op},
                                   {"url.full", request.url}};
    span = tracer->Start(absl::StrCat("dtx call ", request.op),
                         span_ ? span_->context() : TraceContext(), SpanKind::kClient,
                         attributes);
    TraceContext context = span->context();
    request.headers["traceparent"] = std::move(context.traceparent);
    if (!context.tracestate.empty()) {
      request.headers["tracestate"] = std::move(context.tracestate);
    }
  } else if (!global_.options.traceparent.empty()) {
    request.headers["traceparent"] = global_.options.traceparent;
    if (!global_.options.tracestate.empty()) {
      request.headers["tracestate"] = global_.options.tracestate;
    }
  }
  // The call's end: its answer, how long it took (negative: it was never made), its
  // span ended.
  auto answered = [self = shared_from_this(), branch, span = std::move(span)](
                      absl::Status s, double seconds) mutable {
    if (span) {
      span->SetAttribute("dtx.result", s.ok()         ? "success"
                                       : IsFailure(s) ? "failure"
                                       : IsOngoing(s) ? "ongoing"
                                                      : "error");
      if (!s.ok() && !IsFailure(s) && !IsOngoing(s)) span->SetError(s.ToString());
      span->End();
    }
    self->Post({branch, std::move(s), seconds});
  };
  // Calls are timed from their start, for the metrics only (0 s otherwise).
  using SteadyClock = std::chrono::steady_clock;
  const bool timed = ctx_.observer->counting();
  auto timing = [timed](auto answered) {
    return [answered = std::move(answered), timed,
            start = timed ? SteadyClock::now()
                          : SteadyClock::time_point()](absl::Status s) mutable {
      std::move(answered)(
          std::move(s),
          timed ? std::chrono::duration<double>(SteadyClock::now() - start).count() : 0);
    };
  };
  if (!ctx_.limiter->limited()) {
    transport->second->Call(request, timing(std::move(answered)));
    return;
  }
  // Past CoordinatorOptions::max_calls_in_flight the call waits for another to end.
  // It must still end under the lease it was issued in (another coordinator may take
  // the transaction after it): one that starts late gets what is left of the lease as
  // its timeout, and one that starts after that is not made; its error is retried by
  // a later pass, under a lease of its own.
  const absl::Time must_end = lease_until_ - kLeaseMargin;
  ctx_.limiter->Run([transport = transport->second, request = std::move(request),
                     limiter = ctx_.limiter, answered = std::move(answered), timing,
                     must_end, clock = ctx_.options->clock]() mutable {
    const absl::Duration left = must_end - clock->Now();
    if (left <= absl::ZeroDuration()) {
      limiter->Done();
      std::move(answered)(
          absl::UnavailableError("not called: the lease ran out while the call waited "
                                 "for a slot (max_calls_in_flight)"),
          /*seconds=*/-1);
      return;
    }
    request.timeout = std::min(request.timeout, left);
    transport->Call(request, [limiter, timed_answer = timing(std::move(answered))](
                                 absl::Status s) mutable {
      limiter->Done();
      timed_answer(std::move(s));
    });
  });
}

void Pass::Observe(const Answer& answer) {
  internal::CallRecord call;
  call.gid = global_.gid;
  call.trans_type = global_.trans_type;
  if (answer.branch == kQueryPrepared) {
    call.branch_id = kBranchIdMsg;
    call.op = kOpMsg;
    call.url = global_.query_prepared;
  } else {
    const Branch& b = machine_->branches()[answer.branch];
    call.branch_id = b.branch_id;
    const absl::string_view name = Name(b.op);
    call.op = std::string_view(name.data(), name.size());
    call.url = b.url;
  }
  ctx_.observer->Called(call, answer.status, answer.seconds);
}

void Pass::End(absl::Status error) {
  ended_ = true;
  if (span_) {
    span_->SetAttribute("dtx.status", global_.status);
    if (!error.ok() && !absl::IsAborted(error)) span_->SetError(error.ToString());
    span_->End();
  }
  if (done_) std::move(done_)(global_, std::move(error));
}

}  // namespace dtx::engine
