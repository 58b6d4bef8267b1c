// dtxd as operators see it, over real processes and sockets: JSON log lines on stderr,
// Prometheus text at /metrics, /healthz and /readyz, and the submitter's W3C trace
// context on every branch call, across a restart.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "dtx/gid.h"
#include "dtx/grpc/grpc_submitter.h"
#include "dtx/http/http_branch.h"
#include "dtx/http/http_submitter.h"
#include "dtx/result.h"
#include "dtx/saga.h"
#include "dtx/tracing.h"
#include "dtxd_process.h"
#include "test_util.h"

namespace dtx {
namespace {

using nlohmann::json;
using testing::ChildProcess;
using Labels = std::map<std::string, std::string>;

constexpr char kTraceId[] = "4bf92f3577b34da6a3ce929d0e0e4736";

std::string Traceparent(const std::string& span_id) {
  return "00-" + std::string(kTraceId) + "-" + span_id + "-01";
}

// dtxd with its stderr (the log) in `log_path`.
std::vector<std::string> DtxdLoggingTo(const std::string& db_path,
                                       const std::string& log_path,
                                       const std::string& extra = "") {
  return {"/bin/sh", "-c",
          std::string("exec ") + DTX_DTXD_BINARY + " --store sqlite://" + db_path +
              " --http-listen 127.0.0.1:0 --grpc-listen 127.0.0.1:0 --retry-interval 1 "
              "--lease 5 " +
              extra + " 2>>" + log_path};
}

// HTTP branches that keep what each call carried: /ok, /no (FAILURE on action),
// /flaky (ONGOING until `flaky_ok`).
struct Branches {
  Branches() {
    server.Handle("/ok", [this](const BranchInfo& info, const dtx::HttpRequest& r) {
      Record(info, r);
      return absl::OkStatus();
    });
    server.Handle("/no", [this](const BranchInfo& info, const dtx::HttpRequest& r) {
      Record(info, r);
      return info.op == "action" ? FailureError("insufficient stock") : absl::OkStatus();
    });
    server.Handle("/flaky", [this](const BranchInfo& info, const dtx::HttpRequest& r) {
      Record(info, r);
      return flaky_ok ? absl::OkStatus() : OngoingError("not yet");
    });
    // Holds its first call until `release` (at most 20 s), then answers SUCCESS.
    server.Handle("/hold", [this](const BranchInfo& info, const dtx::HttpRequest& r) {
      Record(info, r);
      for (int i = 0; i < 2000 && !release; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      return absl::OkStatus();
    });
    base = "http://127.0.0.1:" + std::to_string(server.Start().value());
  }
  void Record(const BranchInfo& info, const dtx::HttpRequest& r) {
    absl::MutexLock lock(&mu);
    traceparents[info.gid].push_back(std::string(r.Header("traceparent").value_or("")));
  }
  std::vector<std::string> TraceparentsOf(const std::string& gid) {
    absl::MutexLock lock(&mu);
    return traceparents[gid];
  }

  HttpBranchServer server;
  std::string base;
  std::atomic<bool> flaky_ok{false};
  std::atomic<bool> release{false};
  absl::Mutex mu;
  std::map<std::string, std::vector<std::string>> traceparents ABSL_GUARDED_BY(mu);
};

std::string SagaJson(const std::string& gid, const std::string& action,
                     const std::string& compensate) {
  return json{{"gid", gid},
              {"trans_type", "saga"},
              {"steps", {{{"action", action}, {"compensate", compensate}}}},
              {"payloads", {"{}"}},
              {"wait_result", true}}
      .dump();
}

// The samples of a Prometheus text exposition: "name" + labels -> value. Fails the
// test on a line that is not a comment, a sample or empty.
std::map<std::pair<std::string, Labels>, double> ParseMetrics(const std::string& text) {
  std::map<std::pair<std::string, Labels>, double> samples;
  for (const std::string& text_line :
       std::vector<std::string>(absl::StrSplit(text, '\n'))) {
    const std::string_view line = text_line;
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    REQUIRE(space != std::string_view::npos);
    double value = 0;
    REQUIRE(absl::SimpleAtod(std::string(line.substr(space + 1)), &value));
    std::string_view series = line.substr(0, space);
    Labels labels;
    const size_t brace = series.find('{');
    std::string name(series.substr(0, brace));
    if (brace != std::string_view::npos) {
      REQUIRE(series.back() == '}');
      const std::string inside(series.substr(brace + 1, series.size() - brace - 2));
      for (const std::string& text_pair :
           std::vector<std::string>(absl::StrSplit(inside, ','))) {
        const std::string_view pair = text_pair;
        const size_t eq = pair.find('=');
        REQUIRE(eq != std::string_view::npos);
        REQUIRE(pair.size() >= eq + 3);
        labels[std::string(pair.substr(0, eq))] =
            std::string(pair.substr(eq + 2, pair.size() - eq - 3));
      }
    }
    samples[{name, labels}] = value;
  }
  return samples;
}

// The lines of `path`, each parsed as JSON (REQUIREs every one to be).
std::vector<json> JsonLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<json> lines;
  for (std::string line; std::getline(in, line);) {
    INFO(line);
    REQUIRE(json::accept(line));
    lines.push_back(json::parse(line));
  }
  return lines;
}

TEST_CASE("dtxd logs JSON lines and serves /metrics, /healthz and /readyz") {
  const std::string dir = testing::NewTempDir("dtxd-observed");
  const std::string log = dir + "/dtxd.log";
  Branches branches;
  auto dtxd = std::make_unique<ChildProcess>(DtxdLoggingTo(dir + "/dtx.db", log));
  int http_port = 0, grpc_port = 0;
  testing::ReadDtxdPorts(*dtxd, &http_port, &grpc_port);
  httplib::Client c("127.0.0.1", http_port);

  REQUIRE(c.Post("/api/dtmsvr/submit",
                 SagaJson("obs-ok", branches.base + "/ok", branches.base + "/ok"),
                 "application/json")
              ->status == 200);
  REQUIRE(c.Post("/api/dtmsvr/submit",
                 SagaJson("obs-no", branches.base + "/no", branches.base + "/ok"),
                 "application/json")
              ->status == 409);
  REQUIRE(c.Post("/api/dtmsvr/submit", "{not json", "application/json")->status == 400);

  httplib::Result health = c.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  httplib::Result ready = c.Get("/readyz");
  REQUIRE(ready);
  CHECK(ready->status == 200);
  CHECK(json::parse(ready->body)["status"] == "ready");

  httplib::Result scraped = c.Get("/metrics");
  REQUIRE(scraped);
  REQUIRE(scraped->status == 200);
  CHECK(absl::StartsWith(scraped->get_header_value("Content-Type"),
                         "text/plain; version=0.0.4"));
  const auto m = ParseMetrics(scraped->body);
  const auto value = [&](const std::string& name, const Labels& labels) {
    auto it = m.find({name, labels});
    INFO(name);
    REQUIRE(it != m.end());
    return it->second;
  };
  CHECK(value("dtx_transactions_started_total", {{"trans_type", "saga"}}) == 2);
  CHECK(value("dtx_transactions_finished_total",
              {{"trans_type", "saga"}, {"outcome", "succeed"}}) == 1);
  CHECK(value("dtx_transactions_finished_total",
              {{"trans_type", "saga"}, {"outcome", "failed"}}) == 1);
  CHECK(value("dtx_branch_calls_total", {{"op", "action"}, {"result", "success"}}) == 1);
  CHECK(value("dtx_branch_calls_total", {{"op", "action"}, {"result", "failure"}}) == 1);
  CHECK(value("dtx_branch_calls_total", {{"op", "compensate"}, {"result", "success"}}) ==
        1);
  CHECK(value("dtx_branch_call_seconds_count", {{"op", "action"}}) == 2);
  CHECK(value("dtx_branch_call_seconds_bucket", {{"op", "action"}, {"le", "+Inf"}}) == 2);
  CHECK(value("dtx_pass_seconds_count", {}) == 2);
  CHECK(value("dtx_transactions_unfinished", {}) == 0);
  CHECK(value("dtx_transactions_stuck", {}) == 0);
  CHECK(value("dtx_store_commit_group_size_count", {}) >= 1);
  CHECK(value("dtx_api_requests_total",
              {{"api", "http"}, {"route", "/api/dtmsvr/submit"}, {"code", "200"}}) == 1);
  CHECK(value("dtx_api_requests_total",
              {{"api", "http"}, {"route", "/api/dtmsvr/submit"}, {"code", "409"}}) == 1);
  CHECK(value("dtx_api_requests_total",
              {{"api", "http"}, {"route", "/api/dtmsvr/submit"}, {"code", "400"}}) == 1);
  CHECK(value("dtx_api_requests_total",
              {{"api", "http"}, {"route", "/readyz"}, {"code", "200"}}) == 1);
  // Labels of few values only: no gid, no URL.
  CHECK(!absl::StrContains(scraped->body, "obs-ok"));
  CHECK(!absl::StrContains(scraped->body, "127.0.0.1"));
  // An unknown path is counted as "other", not under its own name.
  REQUIRE(c.Get("/no/such/obs-ok")->status == 404);
  const auto again = ParseMetrics(c.Get("/metrics")->body);
  CHECK(again.at({"dtx_api_requests_total",
                  {{"api", "http"}, {"route", "other"}, {"code", "404"}}}) == 1);

  REQUIRE(dtxd->Terminate() == 0);
  const std::vector<json> lines = JsonLines(log);
  std::vector<std::string> events, ok_changes, no_changes;
  for (const json& line : lines) {
    CHECK(line.contains("time"));
    CHECK(line.contains("level"));
    events.push_back(line["event"]);
    if (line["event"] != "transaction") continue;
    CHECK(line["level"] == "info");
    const std::string change =
        line["from"].get<std::string>() + ">" + line["to"].get<std::string>();
    if (line["gid"] == "obs-ok") ok_changes.push_back(change);
    if (line["gid"] == "obs-no") no_changes.push_back(change);
  }
  CHECK(events.front() == "started");
  CHECK(events.back() == "stopped");
  CHECK(ok_changes == std::vector<std::string>{">submitted", "submitted>succeed"});
  CHECK(no_changes ==
        std::vector<std::string>{">submitted", "submitted>aborting", "aborting>failed"});
}

TEST_CASE("dtxd wants the token for /metrics, and leaves /healthz and /readyz open") {
  const std::string dir = testing::NewTempDir("dtxd-observed-auth");
  {
    std::ofstream tokens(dir + "/tokens");
    tokens << "s3cret-token-for-metrics\n";
  }
  ChildProcess dtxd(DtxdLoggingTo(dir + "/dtx.db", dir + "/dtxd.log",
                                  "--auth-token-file " + dir + "/tokens"));
  int http_port = 0, grpc_port = 0;
  testing::ReadDtxdPorts(dtxd, &http_port, &grpc_port);
  httplib::Client c("127.0.0.1", http_port);
  CHECK(c.Get("/metrics")->status == 401);
  CHECK(c.Get("/healthz")->status == 200);
  CHECK(c.Get("/readyz")->status == 200);
  httplib::Headers auth = {{"Authorization", "Bearer s3cret-token-for-metrics"}};
  httplib::Result scraped = c.Get("/metrics", auth);
  REQUIRE(scraped);
  CHECK(scraped->status == 200);
  CHECK(absl::StrContains(scraped->body,
                          "dtx_api_requests_total{api=\"http\",code=\"401\""));
  CHECK(dtxd.Terminate() == 0);
}

TEST_CASE("the submitter's trace context reaches every branch call, across a restart") {
  const std::string dir = testing::NewTempDir("dtxd-traced");
  const std::string db = dir + "/dtx.db", log = dir + "/dtxd.log";
  Branches branches;
  auto dtxd = std::make_unique<ChildProcess>(DtxdLoggingTo(db, log));
  int http_port = 0, grpc_port = 0;
  testing::ReadDtxdPorts(*dtxd, &http_port, &grpc_port);

  // DTM's raw HTTP, with the W3C headers an instrumented client sends.
  httplib::Client c("127.0.0.1", http_port);
  httplib::Headers trace = {{"traceparent", Traceparent("00f067aa0ba902b7")},
                            {"tracestate", "congo=t61rcWkgMzE"}};
  REQUIRE(c.Post("/api/dtmsvr/submit", trace,
                 SagaJson("traced-http", branches.base + "/flaky", ""),
                 "application/json")
              ->status == 409);  // ONGOING: wait result not return success
  // dtx's submitters over HTTP and gRPC.
  HttpSubmitter http({.server = "http://127.0.0.1:" + std::to_string(http_port)});
  GrpcSubmitter grpc({.target = "127.0.0.1:" + std::to_string(grpc_port)});
  Saga over_http(&http, "traced-submitter-http");
  over_http.Add(branches.base + "/flaky", "", "{}")
      .Traceparent(Traceparent("1111111111111111"))
      .WaitResult(true);
  CHECK(IsOngoing(over_http.Submit()));
  Saga over_grpc(&grpc, "traced-submitter-grpc");
  over_grpc.Add(branches.base + "/flaky", "", "{}")
      .Traceparent(Traceparent("2222222222222222"))
      .WaitResult(true);
  CHECK(IsOngoing(over_grpc.Submit()));
  const std::vector<std::string> gids = {"traced-http", "traced-submitter-http",
                                         "traced-submitter-grpc"};
  // Retried by the scan at least once more before the kill.
  REQUIRE(testing::Eventually([&] {
    for (const std::string& gid : gids) {
      if (branches.TraceparentsOf(gid).size() < 2) return false;
    }
    return true;
  }));
  dtxd->Kill();
  dtxd = std::make_unique<ChildProcess>(DtxdLoggingTo(db, log));
  testing::ReadDtxdPorts(*dtxd, &http_port, &grpc_port);
  const size_t before = branches.TraceparentsOf("traced-http").size();
  branches.flaky_ok = true;
  httplib::Client after("127.0.0.1", http_port);
  REQUIRE(testing::Eventually([&] {
    for (const std::string& gid : gids) {
      httplib::Result q = after.Get(("/api/dtmsvr/query?gid=" + gid).c_str());
      if (!q || json::parse(q->body)["transaction"]["status"] != "succeed") return false;
    }
    return true;
  }));
  CHECK(branches.TraceparentsOf("traced-http").size() > before);
  const std::map<std::string, std::string> expected = {
      {"traced-http", Traceparent("00f067aa0ba902b7")},
      {"traced-submitter-http", Traceparent("1111111111111111")},
      {"traced-submitter-grpc", Traceparent("2222222222222222")}};
  for (const auto& [gid, traceparent] : expected) {
    INFO(gid);
    const std::vector<std::string> seen = branches.TraceparentsOf(gid);
    CHECK(seen.size() >= 3);
    CHECK(seen == std::vector<std::string>(seen.size(), traceparent));
  }
  CHECK(dtxd->Terminate() == 0);
}

TEST_CASE(
    "dtxd killed mid-call: the next one takes the transaction over, logs and counts it") {
  const std::string dir = testing::NewTempDir("dtxd-takeover");
  const std::string db = dir + "/dtx.db", log = dir + "/dtxd.log";
  Branches branches;
  auto dtxd = std::make_unique<ChildProcess>(DtxdLoggingTo(db, log));
  int http_port = 0, grpc_port = 0;
  testing::ReadDtxdPorts(*dtxd, &http_port, &grpc_port);
  httplib::Client c("127.0.0.1", http_port);
  json saga = json::parse(SagaJson("takeover-1", branches.base + "/hold", ""));
  saga["wait_result"] = false;
  REQUIRE(c.Post("/api/dtmsvr/submit", saga.dump(), "application/json")->status == 200);
  REQUIRE(testing::Eventually(
      [&] { return !branches.TraceparentsOf("takeover-1").empty(); }));
  dtxd->Kill();  // mid-call: its lease on the transaction stays in the store
  branches.release = true;
  dtxd = std::make_unique<ChildProcess>(DtxdLoggingTo(db, log));
  testing::ReadDtxdPorts(*dtxd, &http_port, &grpc_port);
  httplib::Client after("127.0.0.1", http_port);
  REQUIRE(testing::Eventually([&] {
    httplib::Result q = after.Get("/api/dtmsvr/query?gid=takeover-1");
    return q && json::parse(q->body)["transaction"]["status"] == "succeed";
  }));
  const auto m = ParseMetrics(after.Get("/metrics")->body);
  CHECK(m.at({"dtx_lease_takeovers_total", {}}) == 1);
  CHECK(m.at({"dtx_passes_total", {{"trigger", "scan"}}}) >= 1);
  REQUIRE(dtxd->Terminate() == 0);
  int taken = 0;
  for (const json& line : JsonLines(log)) {
    if (line["event"] != "lease taken over") continue;
    ++taken;
    CHECK(line["gid"] == "takeover-1");
    CHECK(line["status"] == "submitted");
    CHECK(!line["from"].get<std::string>().empty());
  }
  CHECK(taken == 1);
}

// A stand-in OTLP collector: takes OTLP/HTTP JSON at /v1/traces and keeps the spans.
class Collector {
 public:
  struct Span {
    std::string name, trace_id, span_id, parent_id;
    int kind = 0;
    json attributes;
  };

  Collector() {
    server_.Post("/v1/traces", [this](const httplib::Request& req,
                                      httplib::Response& res) {
      json doc = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
      absl::MutexLock lock(&mu_);
      ++requests_;
      for (const json& resource : doc.value("resourceSpans", json::array())) {
        for (const json& scope : resource.value("scopeSpans", json::array())) {
          for (const json& s : scope.value("spans", json::array())) {
            spans_.push_back({s.value("name", ""), s.value("traceId", ""),
                              s.value("spanId", ""), s.value("parentSpanId", ""),
                              s.value("kind", 0), s.value("attributes", json::array())});
          }
        }
      }
      res.set_content("{}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Collector() {
    server_.stop();
    thread_.join();
  }
  std::string endpoint() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/v1/traces";
  }
  std::vector<Span> Spans() {
    absl::MutexLock lock(&mu_);
    return spans_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  absl::Mutex mu_;
  int requests_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Span> spans_ ABSL_GUARDED_BY(mu_);
};

// The value of attribute `key` of an OTLP JSON span, or "".
std::string AttributeOf(const json& attributes, const std::string& key) {
  for (const json& a : attributes) {
    if (a.value("key", "") == key) return a["value"].value("stringValue", "");
  }
  return "";
}

TEST_CASE(
    "dtxd exports its spans over OTLP, children of the submitter's, across a restart") {
  const std::string dir = testing::NewTempDir("dtxd-otlp");
  const std::string db = dir + "/dtx.db", log = dir + "/dtxd.log";
  Collector collector;
  Branches branches;
  const std::string otlp =
      "--otlp-endpoint " + collector.endpoint() + " --otlp-protocol http/json";
  auto dtxd = std::make_unique<ChildProcess>(DtxdLoggingTo(db, log, otlp));
  int http_port = 0, grpc_port = 0;
  testing::ReadDtxdPorts(*dtxd, &http_port, &grpc_port);
  httplib::Client c("127.0.0.1", http_port);
  httplib::Headers trace = {{"traceparent", Traceparent("00f067aa0ba902b7")}};
  REQUIRE(c.Post("/api/dtmsvr/submit", trace,
                 SagaJson("otlp-1", branches.base + "/flaky", ""), "application/json")
              ->status == 409);     // ONGOING
  REQUIRE(dtxd->Terminate() == 0);  // exports what it holds before it exits

  dtxd = std::make_unique<ChildProcess>(DtxdLoggingTo(db, log, otlp));
  branches.flaky_ok = true;
  testing::ReadDtxdPorts(*dtxd, &http_port, &grpc_port);
  httplib::Client after("127.0.0.1", http_port);
  REQUIRE(testing::Eventually([&] {
    httplib::Result q = after.Get("/api/dtmsvr/query?gid=otlp-1");
    return q && json::parse(q->body)["transaction"]["status"] == "succeed";
  }));
  REQUIRE(dtxd->Terminate() == 0);

  std::map<std::string, std::vector<Collector::Span>> by_name;
  for (const Collector::Span& s : collector.Spans()) by_name[s.name].push_back(s);
  REQUIRE(by_name["dtx submit"].size() == 1);
  REQUIRE(by_name["dtx pass"].size() >= 2);
  REQUIRE(by_name["dtx call action"].size() == by_name["dtx pass"].size());
  const Collector::Span& submit = by_name["dtx submit"][0];
  CHECK(submit.trace_id == kTraceId);
  CHECK(submit.parent_id == "00f067aa0ba902b7");  // the submitter's span
  CHECK(AttributeOf(submit.attributes, "dtx.gid") == "otlp-1");
  std::set<std::string> pass_ids, call_ids;
  for (const Collector::Span& pass : by_name["dtx pass"]) {
    CHECK(pass.trace_id == kTraceId);
    CHECK(pass.parent_id == submit.span_id);
    pass_ids.insert(pass.span_id);
  }
  for (const Collector::Span& call : by_name["dtx call action"]) {
    CHECK(call.trace_id == kTraceId);
    CHECK(pass_ids.count(call.parent_id) == 1);
    CHECK(call.kind == 3);  // SPAN_KIND_CLIENT
    CHECK(AttributeOf(call.attributes, "dtx.op") == "action");
    call_ids.insert(call.span_id);
  }
  // Each branch call carried its own call span's context.
  const std::vector<std::string> seen = branches.TraceparentsOf("otlp-1");
  REQUIRE(seen.size() == call_ids.size());
  for (const std::string& traceparent : seen) {
    CHECK(traceparent.substr(0, 36) == "00-" + std::string(kTraceId) + "-");
    CHECK(call_ids.count(traceparent.substr(36, 16)) == 1);
  }
}

TEST_CASE("dtxd's span sampling: new traces by ratio, a submitter's trace by its flag") {
  const std::string dir = testing::NewTempDir("dtxd-otlp-sampled");
  Collector collector;
  Branches branches;
  ChildProcess dtxd(
      DtxdLoggingTo(dir + "/dtx.db", dir + "/dtxd.log",
                    "--otlp-endpoint " + collector.endpoint() +
                        " --otlp-protocol http/json --otlp-sample-ratio 0"));
  int http_port = 0, grpc_port = 0;
  testing::ReadDtxdPorts(dtxd, &http_port, &grpc_port);
  httplib::Client c("127.0.0.1", http_port);
  // A new trace (no traceparent): not sampled at ratio 0, yet its context reaches
  // the branch, marked not sampled.
  REQUIRE(c.Post("/api/dtmsvr/submit", SagaJson("sampled-out", branches.base + "/ok", ""),
                 "application/json")
              ->status == 200);
  // A submitter's sampled trace is followed.
  httplib::Headers trace = {{"traceparent", Traceparent("00f067aa0ba902b7")}};
  REQUIRE(c.Post("/api/dtmsvr/submit", trace,
                 SagaJson("sampled-in", branches.base + "/ok", ""), "application/json")
              ->status == 200);
  REQUIRE(dtxd.Terminate() == 0);
  const std::vector<std::string> out = branches.TraceparentsOf("sampled-out");
  REQUIRE(out.size() == 1);
  CHECK(IsValidTraceparent(out[0]));
  CHECK(out[0].substr(53) == "00");  // not sampled
  const std::vector<Collector::Span> spans = collector.Spans();
  CHECK(spans.size() == 3);  // sampled-in: its submit, its pass, its action call
  for (const Collector::Span& s : spans) CHECK(s.trace_id == kTraceId);
}

}  // namespace
}  // namespace dtx
