#include "observer.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "dtx/result.h"
#include "dtx/transaction.h"

namespace dtx::internal {
namespace {

constexpr std::string_view kTypeNames[] = {kTransTypeSaga, kTransTypeTcc, kTransTypeMsg,
                                           "other"};
constexpr std::string_view kOpNames[] = {kOpAction, kOpCompensate, kOpConfirm,
                                         kOpCancel, kOpMsg,        "other"};
constexpr std::string_view kResultNames[] = {"success", "failure", "ongoing", "error"};

template <size_t N>
int IndexOf(const std::string_view (&names)[N], std::string_view name) {
  for (size_t i = 0; i + 1 < N; ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  return N - 1;  // "other"
}

int ResultOf(const absl::Status& answer) {
  if (answer.ok()) return 0;
  if (IsFailure(answer)) return 1;
  if (IsOngoing(answer)) return 2;
  return 3;
}

MetricSample Labelled(std::vector<std::pair<std::string, std::string>> labels,
                      double value) {
  MetricSample s;
  s.labels = std::move(labels);
  s.value = value;
  return s;
}

}  // namespace

Observer::Observer(const CoordinatorOptions& options)
    : logger_(options.logger != nullptr ? options.logger : StreamLogger::Default()),
      tracer_(options.tracer),
      counting_(options.metrics),
      pass_seconds_(Histogram::SecondsBounds()),
      store_write_seconds_(Histogram::SecondsBounds()) {
  for (int i = 0; i < kOps; ++i) call_seconds_.emplace_back(Histogram::SecondsBounds());
}

void Observer::Changed(std::string_view gid, std::string_view trans_type,
                       std::string_view from, std::string_view to,
                       std::string_view reason) {
  if (counting_) {
    const int type = IndexOf(kTypeNames, trans_type);
    if (from.empty()) started_[type].fetch_add(1, std::memory_order_relaxed);
    if (to == kStatusSucceed || to == kStatusFailed) {
      finished_[type][to == kStatusSucceed ? 0 : 1].fetch_add(1,
                                                              std::memory_order_relaxed);
    }
  }
  if (!logger_->Enabled(LogLevel::kInfo)) return;
  std::vector<LogField> fields = {{"gid", std::string(gid)},
                                  {"trans_type", std::string(trans_type)},
                                  {"from", std::string(from)},
                                  {"to", std::string(to)}};
  if (!reason.empty()) fields.push_back({"reason", std::string(reason)});
  logger_->Log(LogLevel::kInfo, "transaction", fields);
}

void Observer::Called(const CallRecord& call, const absl::Status& answer,
                      double seconds) {
  const int result = ResultOf(answer);
  if (counting_) {
    const int op = IndexOf(kOpNames, call.op);
    calls_[op][result].fetch_add(1, std::memory_order_relaxed);
    call_seconds_[op].Observe(seconds);
  }
  if (result != 3 || !logger_->Enabled(LogLevel::kWarn)) return;
  int64_t suppressed = 0;
  const std::string kind = "branch call " + std::string(call.op) + " " +
                           absl::StatusCodeToString(answer.code());
  if (!limiter_.Admit(kind, &suppressed)) return;
  std::vector<LogField> fields = {{"gid", std::string(call.gid)},
                                  {"trans_type", std::string(call.trans_type)},
                                  {"branch_id", std::string(call.branch_id)},
                                  {"op", std::string(call.op)},
                                  {"url", std::string(call.url)},
                                  {"error", answer.ToString()}};
  if (suppressed > 0) fields.push_back({"suppressed", absl::StrCat(suppressed)});
  logger_->Log(LogLevel::kWarn, "branch call", fields);
}

void Observer::PassEnded(bool scan, double seconds) {
  if (!counting_) return;
  passes_[scan ? 1 : 0].fetch_add(1, std::memory_order_relaxed);
  pass_seconds_.Observe(seconds);
}

void Observer::TakenOver(const TransGlobal& global) {
  if (counting_) takeovers_.fetch_add(1, std::memory_order_relaxed);
  if (!logger_->Enabled(LogLevel::kInfo)) return;
  const LogField fields[] = {{"gid", global.gid},
                             {"trans_type", global.trans_type},
                             {"status", global.status},
                             {"from", global.taken_from}};
  logger_->Log(LogLevel::kInfo, "lease taken over", fields);
}

void Observer::StoreWritten(bool ok, double seconds) {
  if (!counting_) return;
  if (!ok) store_errors_.fetch_add(1, std::memory_order_relaxed);
  store_write_seconds_.Observe(seconds);
}

void Observer::Error(std::string_view event, std::string_view kind,
                     std::vector<LogField> fields) {
  if (!logger_->Enabled(LogLevel::kError)) return;
  int64_t suppressed = 0;
  if (!limiter_.Admit(std::string(event) + " " + std::string(kind), &suppressed)) return;
  if (suppressed > 0) fields.push_back({"suppressed", absl::StrCat(suppressed)});
  logger_->Log(LogLevel::kError, event, fields);
}

void Observer::Collect(std::vector<Metric>& out) const {
  if (!counting_) return;
  const auto load = [](const Counter& c) {
    return static_cast<double>(c.load(std::memory_order_relaxed));
  };
  out.reserve(out.size() + 9);  // references below stay valid
  Metric& started = out.emplace_back();
  started.name = "dtx_transactions_started_total";
  started.help = "Transactions created through this coordinator, by trans_type.";
  Metric& finished = out.emplace_back();
  finished.name = "dtx_transactions_finished_total";
  finished.help =
      "Transactions this coordinator saw end, by trans_type and outcome "
      "(succeed, failed).";
  for (int t = 0; t < kTypes; ++t) {
    const std::string type(kTypeNames[t]);
    started.samples.push_back(Labelled({{"trans_type", type}}, load(started_[t])));
    finished.samples.push_back(
        Labelled({{"trans_type", type}, {"outcome", "succeed"}}, load(finished_[t][0])));
    finished.samples.push_back(
        Labelled({{"trans_type", type}, {"outcome", "failed"}}, load(finished_[t][1])));
  }

  Metric& calls = out.emplace_back();
  calls.name = "dtx_branch_calls_total";
  calls.help =
      "Branch calls, by op and result (success, failure: FAILURE, ongoing: ONGOING, "
      "error: anything else, retried).";
  Metric& call_seconds = out.emplace_back();
  call_seconds.name = "dtx_branch_call_seconds";
  call_seconds.help = "Time from a branch call's start to its answer, by op.";
  call_seconds.type = MetricType::kHistogram;
  for (int op = 0; op < kOps; ++op) {
    const std::string name(kOpNames[op]);
    for (int r = 0; r < kResults; ++r) {
      calls.samples.push_back(Labelled(
          {{"op", name}, {"result", std::string(kResultNames[r])}}, load(calls_[op][r])));
    }
    MetricSample& s = call_seconds.samples.emplace_back();
    s.labels = {{"op", name}};
    call_seconds_[op].Snapshot(s);
  }

  Metric& passes = out.emplace_back();
  passes.name = "dtx_passes_total";
  passes.help =
      "Passes over a transaction, by trigger: submit (a submit or abort), scan (a "
      "retry after ONGOING or an error, a timeout, or the recovery of one left "
      "unfinished).";
  passes.samples.push_back(Labelled({{"trigger", "submit"}}, load(passes_[0])));
  passes.samples.push_back(Labelled({{"trigger", "scan"}}, load(passes_[1])));
  Metric& takeovers = out.emplace_back();
  takeovers.name = "dtx_lease_takeovers_total";
  takeovers.help =
      "Transactions the scan claimed from another owner whose lease ran out (its pass "
      "crashed or stalled).";
  takeovers.samples.push_back(Labelled({}, load(takeovers_)));
  Metric& pass_seconds = out.emplace_back();
  pass_seconds.name = "dtx_pass_seconds";
  pass_seconds.help = "Time a pass took, from its claim to its last write.";
  pass_seconds.type = MetricType::kHistogram;
  pass_seconds_.Snapshot(pass_seconds.samples.emplace_back());

  Metric& writes = out.emplace_back();
  writes.name = "dtx_store_write_seconds";
  writes.help = "Time of the coordinator's store writes (creates, updates, claims).";
  writes.type = MetricType::kHistogram;
  store_write_seconds_.Snapshot(writes.samples.emplace_back());
  Metric& errors = out.emplace_back();
  errors.name = "dtx_store_errors_total";
  errors.help = "Store writes that failed (the database unreachable, a timeout).";
  errors.samples.push_back(Labelled({}, load(store_errors_)));
}

namespace {

// Seconds since `start` on the monotonic clock.
double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A lost compare-and-set or a duplicate gid is an answer, not a failed write.
bool Written(const absl::Status& s) {
  return s.ok() || absl::IsAborted(s) || absl::IsAlreadyExists(s) ||
         absl::IsNotFound(s) || absl::IsInvalidArgument(s);
}

}  // namespace

absl::Status ObservedStore::Create(const TransGlobal& global,
                                   const std::vector<TransBranch>& branches) {
  if (!observer_->counting()) return target()->Create(global, branches);
  const auto start = std::chrono::steady_clock::now();
  absl::Status s = target()->Create(global, branches);
  observer_->StoreWritten(Written(s), SecondsSince(start));
  return s;
}

absl::Status ObservedStore::AddBranches(std::string_view gid,
                                        std::string_view expected_status,
                                        const std::vector<TransBranch>& branches,
                                        size_t max_rows, absl::Time now) {
  if (!observer_->counting()) {
    return target()->AddBranches(gid, expected_status, branches, max_rows, now);
  }
  const auto start = std::chrono::steady_clock::now();
  absl::Status s = target()->AddBranches(gid, expected_status, branches, max_rows, now);
  observer_->StoreWritten(Written(s), SecondsSince(start));
  return s;
}

absl::Status ObservedStore::Update(std::string_view gid, std::string_view expected_status,
                                   std::string_view expected_owner,
                                   const std::vector<BranchUpdate>& branches,
                                   const GlobalUpdate& update, absl::Time now) {
  if (!observer_->counting()) {
    return target()->Update(gid, expected_status, expected_owner, branches, update, now);
  }
  const auto start = std::chrono::steady_clock::now();
  absl::Status s =
      target()->Update(gid, expected_status, expected_owner, branches, update, now);
  observer_->StoreWritten(Written(s), SecondsSince(start));
  return s;
}

void ObservedStore::UpdateAsync(std::string_view gid, std::string_view expected_status,
                                std::string_view expected_owner,
                                const std::vector<BranchUpdate>& branches,
                                const GlobalUpdate& update, absl::Time now,
                                UpdateDone done) {
  if (!observer_->counting()) {
    target()->UpdateAsync(gid, expected_status, expected_owner, branches, update, now,
                          std::move(done));
    return;
  }
  target()->UpdateAsync(gid, expected_status, expected_owner, branches, update, now,
                        [this, start = std::chrono::steady_clock::now(),
                         done = std::move(done)](absl::Status s) mutable {
                          observer_->StoreWritten(Written(s), SecondsSince(start));
                          std::move(done)(std::move(s));
                        });
}

absl::StatusOr<std::vector<TransGlobal>> ObservedStore::ClaimDue(absl::Time now,
                                                                 absl::Time lease_until,
                                                                 std::string_view owner,
                                                                 int limit) {
  if (!observer_->counting()) return target()->ClaimDue(now, lease_until, owner, limit);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<TransGlobal>> claimed =
      target()->ClaimDue(now, lease_until, owner, limit);
  observer_->StoreWritten(claimed.ok(), SecondsSince(start));
  return claimed;
}

}  // namespace dtx::internal
