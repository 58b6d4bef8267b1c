#include "internal/saga_pass.h"

#include <algorithm>
#include <charconv>

#include "absl/strings/str_cat.h"
#include "dtx/result.h"

namespace dtx::internal {
namespace {

// A lease is renewed when less than this is left after the longest call could end.
constexpr absl::Duration kLeaseMargin = absl::Seconds(1);

bool IsFinal(std::string_view status) {
  return status == kStatusSucceed || status == kStatusFailed;
}

}  // namespace

SagaPass::SagaPass(const PassContext& ctx, TransGlobal global,
                   std::vector<TransBranch> branches, DoneCallback done)
    : ctx_(ctx),
      global_(std::move(global)),
      done_(std::move(done)),
      lease_until_(global_.next_cron_time) {
  branches_.reserve(branches.size());
  for (TransBranch& b : branches) {
    branches_.push_back({std::move(b.url), std::move(b.bin_data), std::move(b.branch_id),
                         std::move(b.op), std::move(b.status)});
  }
  // The branch rows hold the steps and payloads.
  global_.steps = {};
  global_.payloads = {};
}

absl::StatusOr<std::shared_ptr<SagaPass>> SagaPass::Create(
    const PassContext& ctx, TransGlobal global, std::vector<TransBranch> branches,
    DoneCallback done) {
  std::shared_ptr<SagaPass> pass(
      new SagaPass(ctx, std::move(global), std::move(branches), std::move(done)));
  if (absl::Status s = pass->Index(); !s.ok()) return s;
  return pass;
}

absl::Status SagaPass::Index() {
  const int step_count = static_cast<int>(branches_.size() / 2);
  if (branches_.size() % 2 != 0) {
    return absl::InternalError(absl::StrCat("saga ", global_.gid, " has an odd number (",
                                            branches_.size(), ") of branch rows"));
  }
  steps_.assign(step_count, StepState{});
  for (int i = 0; i < static_cast<int>(branches_.size()); ++i) {
    const Branch& b = branches_[i];
    int number = 0;
    const char* end = b.branch_id.data() + b.branch_id.size();
    auto [ptr, ec] = std::from_chars(b.branch_id.data(), end, number);
    if (ec != std::errc() || ptr != end || number < 1 || number > step_count) {
      return absl::InternalError(absl::StrCat(
          "saga ", global_.gid, " has an unexpected branch id '", b.branch_id, "'"));
    }
    StepState& step = steps_[number - 1];
    int* slot = b.op == kOpAction       ? &step.action
                : b.op == kOpCompensate ? &step.compensate
                                        : nullptr;
    if (slot == nullptr || *slot != -1) {
      return absl::InternalError(absl::StrCat("saga ", global_.gid, " branch ",
                                              b.branch_id, " has op '", b.op,
                                              "' twice or "
                                              "an unknown op"));
    }
    *slot = i;
  }
  absl::StatusOr<SagaOrders> orders = ParseSagaOrders(global_.custom_data, step_count);
  if (!orders.ok()) return absl::InternalError(std::string(orders.status().message()));
  preds_ = Predecessors(*orders, step_count);
  succs_.assign(step_count, {});
  for (int s = 0; s < step_count; ++s) {
    for (int p : preds_[s]) succs_[p].push_back(s);
  }
  return absl::OkStatus();
}

absl::Duration SagaPass::RequestTimeout() const {
  return global_.options.request_timeout > absl::ZeroDuration()
             ? global_.options.request_timeout
             : ctx_.options->request_timeout;
}

bool SagaPass::ActionSucceeded(int step) const {
  return branches_[steps_[step].action].status == kStatusSucceed;
}

// A compensation runs for every action that was called. An action still `prepared`
// may have been called (its answer was an error or lost in a crash) exactly when all
// its predecessors had succeeded; compensating one that never ran is a null
// compensation, which the branch's barrier absorbs.
bool SagaPass::NeedsCompensation(int step) const {
  if (branches_[steps_[step].action].status != kStatusPrepared) return true;
  return std::all_of(preds_[step].begin(), preds_[step].end(),
                     [&](int p) { return ActionSucceeded(p); });
}

bool SagaPass::CompensationSettled(int step) const {
  return !NeedsCompensation(step) ||
         branches_[steps_[step].compensate].status == kStatusSucceed;
}

void SagaPass::Start() {
  {
    absl::MutexLock lock(&mu_);
    driving_ = true;
  }
  Drive();
}

void SagaPass::Post(Answer answer) {
  {
    absl::MutexLock lock(&mu_);
    inbox_.push_back(std::move(answer));
    if (driving_) return;  // the driver will pick it up
    driving_ = true;
  }
  Drive();
}

void SagaPass::Drive() {
  std::shared_ptr<SagaPass> self = shared_from_this();  // live until we return
  while (Advance()) {
    absl::MutexLock lock(&mu_);
    if (inbox_.empty()) {
      driving_ = false;
      return;
    }
  }
}

bool SagaPass::Advance() {
  while (true) {
    std::vector<Answer> batch;
    {
      absl::MutexLock lock(&mu_);
      batch.swap(inbox_);
    }
    if (ended_) return false;

    // 1. Record the answers (in memory; they are written with the next global write).
    for (Answer& answer : batch) {
      Branch& b = branches_[answer.branch];
      const bool is_action = b.op == kOpAction;
      StepState& step = steps_[std::stoi(b.branch_id) - 1];
      (is_action ? step.action_in_flight : step.compensate_in_flight) = false;
      --in_flight_;
      if (!store_error_.ok()) continue;  // draining after a store failure
      switch (ResultOf(answer.status)) {
        case BranchResult::kSuccess:
          b.status = std::string(kStatusSucceed);
          unwritten_.push_back({b.branch_id, b.op, b.status});
          progressed_ = true;
          break;
        case BranchResult::kFailure:
          if (is_action) {
            b.status = std::string(kStatusFailed);
            unwritten_.push_back({b.branch_id, b.op, b.status});
            if (!abort_wanted_) {
              abort_wanted_ = true;
              abort_reason_ =
                  absl::StrCat("action ", b.branch_id, " '", b.url,
                               "' answered FAILURE: ", answer.status.message());
            }
          } else {  // a compensation cannot refuse: retry it, and let operators see
            saw_error_ = true;
            last_error_ = absl::StrCat("compensate ", b.branch_id, " '", b.url,
                                       "' answered FAILURE: ", answer.status.message());
          }
          break;
        case BranchResult::kOngoing:
          saw_ongoing_ = true;
          last_error_ = absl::StrCat(b.op, " ", b.branch_id, " '", b.url,
                                     "' answered ONGOING: ", answer.status.message());
          break;
        case BranchResult::kError:
          saw_error_ = true;
          last_error_ = absl::StrCat(b.op, " ", b.branch_id, " '", b.url,
                                     "': ", answer.status.ToString());
          break;
      }
    }
    if (!store_error_.ok()) {
      if (in_flight_ > 0) return true;
      End(store_error_);
      return false;
    }

    // 2. Move the global status on, and write it with the answers in one transaction.
    const absl::Time now = ctx_.options->clock->Now();
    const int step_count = static_cast<int>(steps_.size());
    const std::string expected = global_.status;
    GlobalUpdate update;
    if (global_.status == kStatusSubmitted) {
      bool all_done = true, action_in_flight = false;
      for (int s = 0; s < step_count; ++s) {
        all_done = all_done && ActionSucceeded(s);
        action_in_flight = action_in_flight || steps_[s].action_in_flight;
      }
      const absl::Duration ttf = global_.options.timeout_to_fail;
      if (!all_done && !abort_wanted_ && ttf > absl::ZeroDuration() &&
          now >= global_.create_time + ttf) {
        abort_wanted_ = true;
        abort_reason_ =
            absl::StrCat("Timeout after ", absl::ToInt64Seconds(ttf), " seconds");
      }
      if (all_done) {
        update.status = std::string(kStatusSucceed);
        update.finish_time = now;
      } else if (abort_wanted_ && !action_in_flight) {
        update.status = std::string(kStatusAborting);
        update.rollback_reason = abort_reason_;
        update.rollback_time = now;
        update.retry_count = global_.retry_count;
      }
    } else if (global_.status == kStatusAborting) {
      bool all_settled = true;
      for (int s = 0; s < step_count; ++s)
        all_settled = all_settled && CompensationSettled(s);
      if (all_settled) {
        update.status = std::string(kStatusFailed);
        update.finish_time = now;
      }
    }
    const bool final_now = update.status.has_value() && IsFinal(*update.status);
    if (!final_now && !IsFinal(global_.status) &&
        now + RequestTimeout() + kLeaseMargin > lease_until_) {
      // Long enough for any call issued below to end under it, however the lease and
      // request_timeout compare: another coordinator must not call the same branches
      // while these calls are still out.
      lease_until_ = now + std::max(ctx_.options->lease, RequestTimeout() + kLeaseMargin);
      update.next_cron_time = lease_until_;
    }
    // Branch results alone are not written: they ride with the next change of the
    // global row (a status, a lease renewal, or the end of the pass). Until then a
    // crash loses at most answers, and their branches are called again, which they
    // must absorb anyway (their barrier does).
    if (update.status || update.next_cron_time) {
      absl::Status written =
          ctx_.store->Update(global_.gid, expected, ctx_.owner, unwritten_, update, now);
      unwritten_.clear();
      if (!written.ok()) {
        store_error_ = written;
        if (in_flight_ > 0) return true;
        End(store_error_);
        return false;
      }
      if (update.status) global_.status = *update.status;
      if (update.rollback_reason) global_.rollback_reason = *update.rollback_reason;
      if (update.finish_time) global_.finish_time = *update.finish_time;
      if (update.rollback_time) global_.rollback_time = *update.rollback_time;
      if (update.next_cron_time) global_.next_cron_time = *update.next_cron_time;
    }

    // 3. Call whatever can run now, up to max_calls_per_transaction at once; the rest
    // are called as answers come back.
    const int max_calls = ctx_.options->max_calls_per_transaction;
    if (global_.status == kStatusSubmitted && !abort_wanted_) {
      for (int s = 0; s < step_count && in_flight_ < max_calls; ++s) {
        StepState& st = steps_[s];
        if (branches_[st.action].status != kStatusPrepared || st.action_in_flight ||
            st.action_tried) {
          continue;
        }
        if (std::all_of(preds_[s].begin(), preds_[s].end(),
                        [&](int p) { return ActionSucceeded(p); })) {
          Issue(st.action);
        }
      }
    } else if (global_.status == kStatusAborting) {
      for (int s = step_count - 1; s >= 0 && in_flight_ < max_calls; --s) {
        StepState& st = steps_[s];
        if (!NeedsCompensation(s) || branches_[st.compensate].status != kStatusPrepared ||
            st.compensate_in_flight || st.compensate_tried) {
          continue;
        }
        if (std::all_of(succs_[s].begin(), succs_[s].end(),
                        [&](int n) { return CompensationSettled(n); })) {
          Issue(st.compensate);
        }
      }
    }

    {
      absl::MutexLock lock(&mu_);
      if (!inbox_.empty()) continue;
    }
    if (in_flight_ > 0) return true;

    // 4. Nothing in flight and nothing to call: the pass is over.
    if (IsFinal(global_.status)) {
      End(absl::OkStatus());
      return false;
    }
    if (update.status) continue;  // a status just changed: look again before leaving
    if (!counted_retry_) {
      counted_retry_ = true;
      ++global_.retry_count;
      const int64_t limit = global_.options.retry_limit;
      if (global_.status == kStatusSubmitted && limit > 0 &&
          global_.retry_count > limit && !abort_wanted_) {
        abort_wanted_ = true;
        abort_reason_ =
            absl::StrCat("RetryCount is greater than RetryLimit, RetryLimit: ", limit);
        continue;
      }
    }
    const absl::Duration base = global_.options.retry_interval > absl::ZeroDuration()
                                    ? global_.options.retry_interval
                                    : ctx_.options->retry_interval;
    absl::Duration interval = base;
    if (saw_error_ && !progressed_ && global_.next_cron_interval > absl::ZeroDuration()) {
      interval = global_.next_cron_interval * 2;
    }
    interval = std::min(interval, ctx_.options->max_backoff);
    absl::Time next =
        now + interval * (1.0 + ctx_.options->backoff_jitter * ctx_.random());
    const absl::Duration ttf = global_.options.timeout_to_fail;
    if (global_.status == kStatusSubmitted && ttf > absl::ZeroDuration()) {
      next = std::min(next, global_.create_time + ttf);
    }
    GlobalUpdate schedule;
    schedule.owner = std::string();
    schedule.next_cron_time = next;
    schedule.next_cron_interval = interval;
    schedule.retry_count = global_.retry_count;
    schedule.result = last_error_;
    absl::Status written = ctx_.store->Update(global_.gid, global_.status, ctx_.owner,
                                              unwritten_, schedule, now);
    unwritten_.clear();
    if (written.ok()) {
      global_.owner.clear();
      global_.next_cron_time = next;
      global_.next_cron_interval = interval;
      global_.result = last_error_;
    }
    End(written);
    return false;
  }
}

void SagaPass::Issue(int branch) {
  const Branch& b = branches_[branch];
  StepState& step = steps_[std::stoi(b.branch_id) - 1];
  if (b.op == kOpAction) {
    step.action_in_flight = step.action_tried = true;
  } else {
    step.compensate_in_flight = step.compensate_tried = true;
  }
  ++in_flight_;
  if (b.url.empty()) {  // an empty URL always succeeds
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
  BranchRequest request;
  request.url = b.url;
  request.gid = global_.gid;
  request.trans_type = global_.trans_type;
  request.branch_id = b.branch_id;
  request.op = b.op;
  request.payload = b.payload;
  request.headers = global_.options.branch_headers;
  request.timeout = RequestTimeout();
  if (!ctx_.limiter->limited()) {
    transport->second->Call(request, [self = shared_from_this(), branch](absl::Status s) {
      self->Post({branch, std::move(s)});
    });
    return;
  }
  // Past CoordinatorOptions::max_calls_in_flight the call waits for another to end.
  // It must still end under the lease it was issued in (another coordinator may take
  // the transaction after it): one that starts late gets what is left of the lease as
  // its timeout, and one that starts after that is not made; its error is retried by
  // a later pass, under a lease of its own.
  const absl::Time must_end = lease_until_ - kLeaseMargin;
  ctx_.limiter->Run([transport = transport->second, request = std::move(request),
                     limiter = ctx_.limiter, self = shared_from_this(), branch,
                     must_end, clock = ctx_.options->clock]() mutable {
    const absl::Duration left = must_end - clock->Now();
    if (left <= absl::ZeroDuration()) {
      limiter->Done();
      self->Post({branch, absl::UnavailableError(
                              "not called: the lease ran out while the call waited for "
                              "a slot (max_calls_in_flight)")});
      return;
    }
    request.timeout = std::min(request.timeout, left);
    transport->Call(request, [limiter, self = std::move(self), branch](absl::Status s) {
      limiter->Done();
      self->Post({branch, std::move(s)});
    });
  });
}

void SagaPass::End(absl::Status error) {
  ended_ = true;
  if (done_) std::move(done_)(global_, std::move(error));
}

}  // namespace dtx::internal
