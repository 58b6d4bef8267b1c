// What a coordinator tells the outside (dtx/log.h, dtx/metrics.h, dtx/tracing.h): its
// log records, its metrics and its spans, and the trace context it passes to every
// branch call. On a real SQLite file, with in-process branches and a manual clock.
#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "dtx/coordinator.h"
#include "dtx/gid.h"
#include "dtx/log.h"
#include "dtx/metrics.h"
#include "dtx/result.h"
#include "dtx/tracing.h"
#include "saga_fixture.h"

namespace dtx {
namespace {

using testing::SagaFixture;
using Fields = std::map<std::string, std::string>;

constexpr char kTraceparent[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
constexpr char kTraceId[] = "0af7651916cd43dd8448eb211c80319c";

struct Record {
  LogLevel level;
  std::string event;
  Fields fields;
};

// Keeps every record at info and above.
class RecordingLogger : public Logger {
 public:
  bool Enabled(LogLevel level) const override { return level >= LogLevel::kInfo; }
  void Log(LogLevel level, std::string_view event,
           std::span<const LogField> fields) override {
    Record r{level, std::string(event), {}};
    for (const LogField& f : fields) r.fields[std::string(f.key)] = f.value;
    absl::MutexLock lock(&mu_);
    records_.push_back(std::move(r));
  }
  std::vector<Record> Of(const std::string& event) {
    absl::MutexLock lock(&mu_);
    std::vector<Record> out;
    for (const Record& r : records_) {
      if (r.event == event) out.push_back(r);
    }
    return out;
  }

 private:
  absl::Mutex mu_;
  std::vector<Record> records_ ABSL_GUARDED_BY(mu_);
};

// The status changes logged for `gid`, as "from>to".
std::vector<std::string> Changes(RecordingLogger& logger, const std::string& gid) {
  std::vector<std::string> out;
  for (const Record& r : logger.Of("transaction")) {
    if (r.fields.at("gid") != gid) continue;
    CHECK(r.level == LogLevel::kInfo);
    CHECK(r.fields.at("trans_type") == "saga");
    out.push_back(r.fields.at("from") + ">" + r.fields.at("to"));
  }
  return out;
}

// The sample of metric `name` with exactly `labels`; fails the test when absent.
MetricSample SampleOf(const std::vector<Metric>& metrics, const std::string& name,
                      const Fields& labels = {}) {
  for (const Metric& m : metrics) {
    if (m.name != name) continue;
    for (const MetricSample& s : m.samples) {
      if (Fields(s.labels.begin(), s.labels.end()) == labels) return s;
    }
  }
  FAIL("no metric " << name << " with those labels");
  return {};
}

double ValueOf(const std::vector<Metric>& metrics, const std::string& name,
               const Fields& labels = {}) {
  return SampleOf(metrics, name, labels).value;
}

// A tracer of the test's own: made-up ids, each span kept once ended.
class RecordingTracer : public Tracer {
 public:
  struct Ended {
    std::string name, trace_id, span_id, parent_id;
    Fields attributes;
    bool error = false;
  };

  std::unique_ptr<Span> Start(std::string_view name, const TraceContext& parent,
                              SpanKind kind,
                              std::span<const LogField> attributes) override {
    auto span = std::make_unique<TestSpan>(this);
    span->ended.name = std::string(name);
    absl::MutexLock lock(&mu_);
    if (IsValidTraceparent(parent.traceparent)) {
      span->ended.trace_id = parent.traceparent.substr(3, 32);
      span->ended.parent_id = parent.traceparent.substr(36, 16);
    } else {
      span->ended.trace_id = absl::StrFormat("%032x", ++next_id_);
    }
    span->ended.span_id = absl::StrFormat("%016x", ++next_id_);
    for (const LogField& a : attributes)
      span->ended.attributes[std::string(a.key)] = a.value;
    return span;
  }

  std::vector<Ended> Spans() {
    absl::MutexLock lock(&mu_);
    return ended_;
  }

 private:
  class TestSpan : public Span {
   public:
    explicit TestSpan(RecordingTracer* tracer) : tracer_(tracer) {}
    TraceContext context() const override {
      return {"00-" + ended.trace_id + "-" + ended.span_id + "-01", "dtx=test"};
    }
    void SetAttribute(std::string_view key, std::string_view value) override {
      ended.attributes[std::string(key)] = std::string(value);
    }
    void SetError(std::string_view) override { ended.error = true; }
    void End() override {
      absl::MutexLock lock(&tracer_->mu_);
      tracer_->ended_.push_back(ended);
    }
    Ended ended;

   private:
    RecordingTracer* tracer_;
  };

  absl::Mutex mu_;
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Ended> ended_ ABSL_GUARDED_BY(mu_);
};

TEST_CASE(
    "the logger hears every status change, and failed calls at warn, rate-limited") {
  RecordingLogger logger;
  SagaFixture f([&](CoordinatorOptions& o) { o.logger = &logger; });
  f.Branch("ok");
  f.Branch("no", FailureError("out of stock"));
  f.Branch("down", absl::UnavailableError("connection refused"));

  REQUIRE(f.NewSaga("log-ok")
              .Add(f.Url("ok"), f.Url("ok"), "")
              .WaitResult(true)
              .Submit()
              .ok());
  CHECK(Changes(logger, "log-ok") ==
        std::vector<std::string>{">submitted", "submitted>succeed"});

  REQUIRE(IsFailure(f.NewSaga("log-no")
                        .Add(f.Url("ok"), f.Url("ok"), "")
                        .Add(f.Url("no"), f.Url("ok"), "")
                        .WaitResult(true)
                        .Submit()));
  CHECK(Changes(logger, "log-no") ==
        std::vector<std::string>{">submitted", "submitted>aborting", "aborting>failed"});
  const std::vector<Record> rolled_back = logger.Of("transaction");
  CHECK(std::any_of(rolled_back.begin(), rolled_back.end(), [](const Record& r) {
    return r.fields.at("to") == "aborting" && r.fields.count("reason") == 1 &&
           r.fields.at("reason").find("out of stock") != std::string::npos;
  }));
  // FAILURE is an answer, not an error: no warn record.
  CHECK(logger.Of("branch call").empty());

  // 25 sagas whose action keeps failing with an error: 25 warn records would flood
  // the log; 10 are written, and the rest counted.
  for (int i = 0; i < 25; ++i) {
    REQUIRE(IsOngoing(f.NewSaga(absl::StrFormat("log-down-%d", i))
                          .Add(f.Url("down"), "", "")
                          .WaitResult(true)
                          .Submit()));
  }
  REQUIRE(f.CallCount("down") == 25);
  const std::vector<Record> warned = logger.Of("branch call");
  REQUIRE(warned.size() == 10);
  CHECK(warned[0].level == LogLevel::kWarn);
  CHECK(warned[0].fields.at("op") == "action");
  CHECK(warned[0].fields.at("url") == f.Url("down"));
  CHECK(warned[0].fields.at("error").find("connection refused") != std::string::npos);
  CHECK(warned[0].fields.count("gid") == 1);
  CHECK(warned[0].fields.count("suppressed") == 0);
}

TEST_CASE("Metrics counts transactions, calls, passes and writes, and reads the gauges") {
  SagaFixture f([](CoordinatorOptions& o) { o.stuck_after = absl::Minutes(5); });
  f.Branch("ok");
  f.Branch("no", FailureError("no"));
  f.Branch("later", [](int call, const BranchRequest&) {
    return call == 1 ? OngoingError("not yet") : absl::OkStatus();
  });
  f.Branch("down", absl::UnavailableError("down"));

  REQUIRE(
      f.NewSaga("m-ok").Add(f.Url("ok"), f.Url("ok"), "").WaitResult(true).Submit().ok());
  REQUIRE(IsFailure(
      f.NewSaga("m-no").Add(f.Url("no"), f.Url("ok"), "").WaitResult(true).Submit()));
  REQUIRE(IsOngoing(
      f.NewSaga("m-later").Add(f.Url("later"), "", "").WaitResult(true).Submit()));
  for (int i = 0; i < 3; ++i) {
    REQUIRE(f.NewSaga(absl::StrFormat("m-down-%d", i))
                .Add(f.Url("down"), "", "")
                .WaitResult(true)
                .Submit()
                .code() == absl::StatusCode::kFailedPrecondition);
  }
  // The scan's passes: m-later succeeds, the three stay down.
  REQUIRE(f.AdvanceAndRun(absl::Seconds(2)) == 4);

  const std::vector<Metric> m = f.coordinator->Metrics();
  CHECK(ValueOf(m, "dtx_transactions_started_total", {{"trans_type", "saga"}}) == 6);
  CHECK(ValueOf(m, "dtx_transactions_started_total", {{"trans_type", "tcc"}}) == 0);
  CHECK(ValueOf(m, "dtx_transactions_finished_total",
                {{"trans_type", "saga"}, {"outcome", "succeed"}}) == 2);
  CHECK(ValueOf(m, "dtx_transactions_finished_total",
                {{"trans_type", "saga"}, {"outcome", "failed"}}) == 1);
  // ok's action and m-no's compensation, m-later's second call.
  CHECK(ValueOf(m, "dtx_branch_calls_total", {{"op", "action"}, {"result", "success"}}) ==
        2);
  CHECK(ValueOf(m, "dtx_branch_calls_total",
                {{"op", "compensate"}, {"result", "success"}}) == 1);
  CHECK(ValueOf(m, "dtx_branch_calls_total", {{"op", "action"}, {"result", "failure"}}) ==
        1);
  CHECK(ValueOf(m, "dtx_branch_calls_total", {{"op", "action"}, {"result", "ongoing"}}) ==
        1);
  CHECK(ValueOf(m, "dtx_branch_calls_total", {{"op", "action"}, {"result", "error"}}) ==
        6);
  const MetricSample calls = SampleOf(m, "dtx_branch_call_seconds", {{"op", "action"}});
  CHECK(calls.count == 10);
  REQUIRE(calls.bucket_counts.size() == calls.bucket_bounds.size());
  CHECK(std::is_sorted(calls.bucket_counts.begin(), calls.bucket_counts.end()));
  CHECK(calls.bucket_counts.back() <= calls.count);
  CHECK(ValueOf(m, "dtx_passes_total", {{"trigger", "submit"}}) == 6);
  CHECK(ValueOf(m, "dtx_passes_total", {{"trigger", "scan"}}) == 4);
  CHECK(SampleOf(m, "dtx_pass_seconds").count == 10);
  // 6 creates, the claims and the passes' updates: at least one write per pass.
  CHECK(SampleOf(m, "dtx_store_write_seconds").count >= 16);
  CHECK(ValueOf(m, "dtx_store_errors_total") == 0);
  CHECK(ValueOf(m, "dtx_transactions_unfinished") == 3);
  CHECK(ValueOf(m, "dtx_transactions_stuck") == 0);
  CHECK(SampleOf(m, "dtx_store_commit_group_size").count > 0);

  // Five minutes on, the three still down are stuck.
  f.clock.Advance(absl::Minutes(6));
  const std::vector<Metric> later = f.coordinator->Metrics();
  CHECK(ValueOf(later, "dtx_transactions_stuck") == 3);
  CHECK(ValueOf(later, "dtx_transactions_unfinished") == 3);
}

TEST_CASE("a transaction whose owner's lease ran out is taken over, logged and counted") {
  RecordingLogger logger;
  SagaFixture f([&](CoordinatorOptions& o) { o.logger = &logger; });
  f.Branch("ok");
  // What a coordinator that crashed mid-pass leaves: its own lease, ending in 60 s.
  TransGlobal row;
  row.gid = "orphan-1";
  row.status = std::string(kStatusSubmitted);
  row.owner = "crashed-coordinator";
  row.protocol = "local";
  row.create_time = row.update_time = f.clock.Now();
  row.next_cron_time = f.clock.Now() + absl::Seconds(60);
  TransBranch action;
  action.gid = row.gid;
  action.branch_id = "01";
  action.op = std::string(kOpAction);
  action.url = f.Url("ok");
  action.status = std::string(kStatusPrepared);
  TransBranch compensate = action;
  compensate.op = std::string(kOpCompensate);
  compensate.url = "";
  REQUIRE(f.store->Create(row, {compensate, action}).ok());
  REQUIRE(f.AdvanceAndRun(absl::Seconds(30)) == 0);  // its lease holds
  REQUIRE(f.AdvanceAndRun(absl::Seconds(31)) == 1);
  CHECK(f.State("orphan-1").global.status == "succeed");
  const std::vector<Record> taken = logger.Of("lease taken over");
  REQUIRE(taken.size() == 1);
  CHECK(taken[0].level == LogLevel::kInfo);
  CHECK(taken[0].fields.at("gid") == "orphan-1");
  CHECK(taken[0].fields.at("from") == "crashed-coordinator");
  CHECK(ValueOf(f.coordinator->Metrics(), "dtx_lease_takeovers_total") == 1);
  // A retry the coordinator scheduled itself is not a take-over.
  f.Branch("later", [](int call, const BranchRequest&) {
    return call == 1 ? OngoingError("not yet") : absl::OkStatus();
  });
  REQUIRE(IsOngoing(
      f.NewSaga("retried-1").Add(f.Url("later"), "", "").WaitResult(true).Submit()));
  REQUIRE(f.AdvanceAndRun(absl::Seconds(2)) == 1);
  CHECK(f.State("retried-1").global.status == "succeed");
  CHECK(ValueOf(f.coordinator->Metrics(), "dtx_lease_takeovers_total") == 1);
  CHECK(logger.Of("lease taken over").size() == 1);
}

TEST_CASE(
    "the submitter's trace context reaches every branch call, after a restart too") {
  SagaFixture f;
  // Each call's "traceparent|tracestate".
  std::vector<std::string> seen;
  absl::Mutex mu;
  const auto context_of = [](const BranchRequest& r) {
    auto parent = r.headers.find("traceparent"), state = r.headers.find("tracestate");
    return (parent == r.headers.end() ? "-" : parent->second) + "|" +
           (state == r.headers.end() ? "-" : state->second);
  };
  f.Branch("later", [&](int call, const BranchRequest& r) {
    absl::MutexLock lock(&mu);
    seen.push_back(context_of(r));
    return call < 3 ? OngoingError("not yet") : absl::OkStatus();
  });
  REQUIRE(IsOngoing(f.NewSaga("trace-1")
                        .Add(f.Url("later"), "", "")
                        .Traceparent(kTraceparent, "vendor=1")
                        .WaitResult(true)
                        .Submit()));
  REQUIRE(f.AdvanceAndRun(absl::Seconds(2)) == 1);

  // A coordinator started afresh on the same store finishes it with the same context.
  f.coordinator->Shutdown();
  CoordinatorOptions options;
  options.store = f.store.get();
  options.transports = {{"local", &f.transport}};
  options.clock = &f.clock;
  options.poll_interval = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<Coordinator>> restarted = Coordinator::Start(options);
  REQUIRE(restarted.ok());
  f.coordinator = *std::move(restarted);
  REQUIRE(f.AdvanceAndRun(absl::Seconds(30)) == 1);
  CHECK(f.State("trace-1").global.status == "succeed");
  CHECK(seen == std::vector<std::string>(3, std::string(kTraceparent) + "|vendor=1"));

  // An invalid traceparent is dropped (the W3C rule), not refused.
  f.Branch("ok", [&](int, const BranchRequest& r) {
    absl::MutexLock lock(&mu);
    seen.push_back(context_of(r));
    return absl::OkStatus();
  });
  REQUIRE(f.NewSaga("trace-2")
              .Add(f.Url("ok"), "", "")
              .Traceparent("00-zz-bad-01", "vendor=1")
              .WaitResult(true)
              .Submit()
              .ok());
  CHECK(f.CallCount("ok") == 1);
  CHECK(seen.back() == "-|-");
}

TEST_CASE(
    "a tracestate that is not safe to send is dropped, and options that do not fit are "
    "refused") {
  SagaFixture f;
  std::vector<std::map<std::string, std::string>> seen;
  f.Branch("ok", [&](int, const BranchRequest& r) {
    seen.push_back(r.headers);
    return absl::OkStatus();
  });
  const std::string state_512(512, 'a'), state_513(513, 'a');
  for (const std::string& state :
       {std::string("a\x01"
                    "b"),
        std::string("x\r\nEvil: 1"), state_513, std::string("caf\xc3\xa9=1")}) {
    seen.clear();
    REQUIRE(f.NewSaga(GidGenerator().Next())
                .Add(f.Url("ok"), "", "")
                .Traceparent(kTraceparent, state)
                .WaitResult(true)
                .Submit()
                .ok());
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].at("traceparent") == kTraceparent);  // kept
    CHECK(seen[0].count("tracestate") == 0);           // dropped alone
  }
  seen.clear();
  REQUIRE(f.NewSaga("state-512")
              .Add(f.Url("ok"), "", "")
              .Traceparent(kTraceparent, state_512)
              .WaitResult(true)
              .Submit()
              .ok());
  CHECK(seen.at(0).at("tracestate") == state_512);
  // Headers and trace context share the stored options (1024 bytes): the tracestate
  // gives way first; headers alone over it are refused, nothing stored.
  seen.clear();
  REQUIRE(f.NewSaga("state-crowded")
              .Add(f.Url("ok"), "", "")
              .BranchHeader("x-big", std::string(700, 'h'))
              .Traceparent(kTraceparent, state_512)
              .WaitResult(true)
              .Submit()
              .ok());
  CHECK(seen.at(0).at("traceparent") == kTraceparent);
  CHECK(seen.at(0).count("tracestate") == 0);
  absl::Status too_big = f.NewSaga("headers-too-big")
                             .Add(f.Url("ok"), "", "")
                             .BranchHeader("x-big", std::string(1100, 'h'))
                             .Submit();
  CHECK(absl::IsInvalidArgument(too_big));
  CHECK(absl::IsNotFound(f.coordinator->Query("headers-too-big").status()));
  CHECK(!IsValidTracestate(state_513));
  CHECK(IsValidTracestate(""));
  CHECK(IsValidTracestate("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"));
}

TEST_CASE("with a tracer, submit, pass and call spans nest under the submitter's trace") {
  RecordingTracer tracer;
  SagaFixture f([&](CoordinatorOptions& o) { o.tracer = &tracer; });
  std::vector<std::string> seen;
  f.Branch("a", [&](int call, const BranchRequest& r) {
    seen.push_back(r.headers.at("traceparent"));
    return call == 1 ? absl::UnavailableError("down") : absl::OkStatus();
  });
  REQUIRE(f.NewSaga("span-1")
              .Add(f.Url("a"), "", "")
              .Traceparent(kTraceparent)
              .WaitResult(true)
              .Submit()
              .code() == absl::StatusCode::kFailedPrecondition);
  REQUIRE(f.AdvanceAndRun(absl::Seconds(2)) == 1);
  CHECK(f.State("span-1").global.status == "succeed");

  const std::vector<RecordingTracer::Ended> spans = tracer.Spans();
  std::map<std::string, std::vector<RecordingTracer::Ended>> by_name;
  for (const auto& s : spans) {
    CHECK(s.trace_id == kTraceId);
    by_name[s.name].push_back(s);
  }
  REQUIRE(by_name["dtx submit"].size() == 1);
  REQUIRE(by_name["dtx pass"].size() == 2);
  REQUIRE(by_name["dtx call action"].size() == 2);
  const auto& submit = by_name["dtx submit"][0];
  CHECK(submit.parent_id == "b7ad6b7169203331");  // the submitter's span
  CHECK(submit.attributes.at("dtx.gid") == "span-1");
  for (int i = 0; i < 2; ++i) {
    const auto& pass = by_name["dtx pass"][i];
    const auto& call = by_name["dtx call action"][i];
    CHECK(pass.parent_id == submit.span_id);  // the stored context is the submit's
    CHECK(call.parent_id == pass.span_id);
    CHECK(call.attributes.at("dtx.branch_id") == "01");
    // The branch is given the call span's context.
    CHECK(seen[i] == "00-" + std::string(kTraceId) + "-" + call.span_id + "-01");
  }
  CHECK(by_name["dtx call action"][0].error);
  CHECK(by_name["dtx call action"][0].attributes.at("dtx.result") == "error");
  CHECK(!by_name["dtx call action"][1].error);
}

TEST_CASE("StreamLogger writes key=value and JSON lines, and log levels parse") {
  std::FILE* out = std::tmpfile();
  REQUIRE(out != nullptr);
  StreamLogger text(LogFormat::kKeyValue, LogLevel::kInfo, out);
  StreamLogger json(LogFormat::kJsonLines, LogLevel::kWarn, out);
  CHECK(!text.Enabled(LogLevel::kDebug));
  CHECK(text.Enabled(LogLevel::kInfo));
  CHECK(!json.Enabled(LogLevel::kInfo));
  const LogField fields[] = {
      {"gid", "g-1"}, {"reason", "said \"no\"\nthen left"}, {"e", ""}};
  text.Log(LogLevel::kInfo, "transaction", fields);
  json.Log(LogLevel::kInfo, "dropped", fields);  // below its level
  json.Log(LogLevel::kError, "pass stopped", fields);
  std::rewind(out);
  char buffer[1024] = {};
  const size_t n = std::fread(buffer, 1, sizeof(buffer) - 1, out);
  std::fclose(out);
  const std::string written(buffer, n);
  const size_t newline = written.find('\n');
  REQUIRE(newline != std::string::npos);
  const std::string first = written.substr(0, newline);
  const std::string second = written.substr(newline + 1);
  CHECK(first.find(" level=info event=transaction gid=g-1 "
                   "reason=\"said \\\"no\\\"\\nthen left\" e=\"\"") != std::string::npos);
  CHECK(first.rfind("time=", 0) == 0);
  CHECK(second.find(R"("level":"error","event":"pass stopped","gid":"g-1",)"
                    R"("reason":"said \"no\"\nthen left","e":""})") != std::string::npos);
  CHECK(std::count(written.begin(), written.end(), '\n') == 2);

  // JSON lines stay valid JSON whatever the text: control bytes, UTF-8, invalid UTF-8.
  std::FILE* odd = std::tmpfile();
  REQUIRE(odd != nullptr);
  StreamLogger odd_json(LogFormat::kJsonLines, LogLevel::kInfo, odd);
  const LogField odd_fields[] = {{"ctl",
                                  "a\x01"
                                  "b\tc"},
                                 {"utf8", "caf\xc3\xa9"},
                                 {"bad", "x\xff\xfey"}};
  odd_json.Log(LogLevel::kInfo, "odd \"event\"", odd_fields);
  std::rewind(odd);
  char odd_buffer[1024] = {};
  const size_t odd_n = std::fread(odd_buffer, 1, sizeof(odd_buffer) - 1, odd);
  std::fclose(odd);
  const std::string odd_line(odd_buffer, odd_n);
  REQUIRE(nlohmann::json::accept(odd_line));
  const nlohmann::json parsed = nlohmann::json::parse(odd_line);
  CHECK(parsed["event"] == "odd \"event\"");
  CHECK(parsed["ctl"] ==
        "a\x01"
        "b\tc");
  CHECK(parsed["utf8"] == "caf\xc3\xa9");
  CHECK(parsed["bad"].get<std::string>().find("\xef\xbf\xbd") != std::string::npos);
  INFO(odd_line);
  CHECK(odd_line.find("\\u0001") != std::string::npos);

  CHECK(*ParseLogLevel("warn") == LogLevel::kWarn);
  CHECK(*ParseLogLevel("warning") == LogLevel::kWarn);
  CHECK(*ParseLogLevel("debug") == LogLevel::kDebug);
  CHECK(ParseLogLevel("loud").status().code() == absl::StatusCode::kInvalidArgument);

  CHECK(IsValidTraceparent(kTraceparent));
  CHECK(!IsValidTraceparent("00-00000000000000000000000000000000-b7ad6b7169203331-01"));
  CHECK(!IsValidTraceparent("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"));
  CHECK(!IsValidTraceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
  CHECK(!IsValidTraceparent("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"));
  CHECK(!IsValidTraceparent(""));
}

}  // namespace
}  // namespace dtx
