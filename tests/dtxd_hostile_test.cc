// dtxd against hostile and careless clients (issue 12's findings), as a separate
// process over real sockets: each refused request stores nothing, and dtxd still runs
// a valid saga afterwards.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "dtmgimp.grpc.pb.h"
#include "dtx/gid.h"
#include "dtx/grpc/grpc_submitter.h"
#include "dtx/http/http_branch.h"
#include "dtx/http/http_submitter.h"
#include "dtx/soci/soci_store.h"
#include "dtxd_process.h"
#include "test_util.h"

namespace dtx {
namespace {

using nlohmann::json;
using testing::DtxdProcess;

httplib::Result Submit(httplib::Client& c, const json& body) {
  return c.Post("/api/dtmsvr/submit", body.dump(), "application/json");
}

json Query(httplib::Client& c, const std::string& gid) {
  httplib::Result r = c.Get(("/api/dtmsvr/query?gid=" + gid).c_str());
  REQUIRE(r);
  REQUIRE(r->status == 200);
  return json::parse(r->body);
}

json Saga(const std::string& gid, const std::string& url) {
  return {{"gid", gid},
          {"trans_type", "saga"},
          {"steps", {{{"action", url}, {"compensate", url}}}},
          {"payloads", {"{}"}}};
}

// What every case ends with: dtxd is up and drives a valid saga to its end.
void ExpectServing(httplib::Client& c, const std::string& gid) {
  HttpBranchServer branch;
  branch.Handle(
      "/ok", [](const BranchInfo&, const HttpRequest&) { return absl::OkStatus(); });
  const std::string url =
      "http://127.0.0.1:" + std::to_string(branch.Start().value()) + "/ok";
  json saga = Saga(gid, url);
  saga["wait_result"] = true;
  httplib::Result r = Submit(c, saga);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(Query(c, gid)["transaction"]["status"] == "succeed");
}

grpc::Status GrpcSubmit(dtmgimp::Dtm::Stub& stub, const dtmgimp::DtmRequest& request) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  google::protobuf::Empty reply;
  return stub.Submit(&ctx, request, &reply);
}

TEST_CASE("branch headers and URLs a transport cannot send are refused at submit") {
  const std::string dir = testing::NewTempDir("dtxd-hostile-headers");
  DtxdProcess dtxd(dir + "/dtx.db");
  httplib::Client c("127.0.0.1", dtxd.http_port());
  auto stub = dtmgimp::Dtm::NewStub(
      grpc::CreateChannel(dtxd.grpc_target(), grpc::InsecureChannelCredentials()));
  const std::string grpc_url = "127.0.0.1:9/dtxtest.Busi/Act";
  int n = 0;
  // Finding 1: each of these, sent to a gRPC branch, aborted dtxd inside gRPC.
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"x-a", "caf\xc3\xa9"},
                                                        {"x-a", std::string("a\0b", 3)},
                                                        {"x-a", "del\x7f"},
                                                        {"a b", "1"},
                                                        {"a/b", "1"},
                                                        {"grpc-timeout", "1S"}}) {
    INFO(absl::CEscape(name) << ": " << absl::CEscape(value));
    const std::string gid = "hdr-" + std::to_string(++n);
    json saga = Saga(gid, grpc_url);
    saga["protocol"] = "grpc";
    saga["branch_headers"] = {{name, value}};
    httplib::Result r = Submit(c, saga);
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(absl::StrContains(r->body, "branch header"));
    CHECK(Query(c, gid)["transaction"].is_null());

    dtmgimp::DtmRequest request;
    request.set_gid(gid + "g");
    request.set_transtype("saga");
    request.set_steps(json::array({{{"action", grpc_url}, {"compensate", ""}}}).dump());
    (*request.mutable_transoptions()->mutable_branchheaders())[name] = value;
    grpc::Status s = GrpcSubmit(*stub, request);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(Query(c, gid + "g")["transaction"].is_null());
  }
  // Finding 11: URLs that were stored and retried until force-stopped.
  for (const std::string& url : std::vector<std::string>{
           std::string("http://127.0.0.1:9/a\r\nX-Evil: 1"),
           std::string("http://x/a\0b", 12), std::string("file:///etc/passwd"),
           std::string("http://127.0.0.1:9/a b")}) {
    INFO(absl::CEscape(url));
    const std::string gid = "url-" + std::to_string(++n);
    httplib::Result r = Submit(c, Saga(gid, url));
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(absl::StrContains(r->body, "branch URL"));
    CHECK(Query(c, gid)["transaction"].is_null());
  }
  ExpectServing(c, "after-headers");
  CHECK(dtxd.Terminate() == 0);
}

TEST_CASE("a stored row that cannot be called fails its call, not the process") {
  // A row written before the checks existed: a gRPC saga whose header gRPC cannot send.
  const std::string dir = testing::NewTempDir("dtxd-hostile-row");
  const std::string db = dir + "/dtx.db";
  {
    auto store = SociStore::Open({.url = "sqlite://" + db}).value();
    TransGlobal g;
    g.gid = "old-row-1";
    g.protocol = "grpc";
    g.status = "submitted";
    g.options.branch_headers = {{"x-a", "caf\xc3\xa9"}};
    g.create_time = g.update_time = g.next_cron_time = absl::Now() - absl::Seconds(5);
    std::vector<TransBranch> branches(2);
    for (TransBranch& b : branches) {
      b.gid = g.gid;
      b.branch_id = "01";
      b.url = "127.0.0.1:9/dtxtest.Busi/Act";
      b.status = "prepared";
    }
    branches[0].op = "compensate";
    branches[1].op = "action";
    REQUIRE(store->Create(g, branches).ok());
  }
  DtxdProcess dtxd(db, {"--poll-interval", "0.1"});
  httplib::Client c("127.0.0.1", dtxd.http_port());
  json q;
  for (int i = 0; i < 100; ++i) {
    q = Query(c, "old-row-1");
    if (q["transaction"].contains("result")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  INFO(q.dump());
  CHECK(q["transaction"]["status"] == "submitted");
  CHECK(absl::StrContains(q["transaction"].value("result", ""), "printable ASCII"));
  ExpectServing(c, "after-old-row");
  CHECK(dtxd.Terminate() == 0);
}

TEST_CASE("deep JSON is refused while parsing, over HTTP and gRPC") {
  const std::string dir = testing::NewTempDir("dtxd-hostile-deep");
  DtxdProcess dtxd(dir + "/dtx.db");
  httplib::Client c("127.0.0.1", dtxd.http_port());
  // Finding 2: a predecessor nested 80,000 levels deep in custom_data.orders.
  json saga = Saga("deep-1", "http://127.0.0.1:9/a");
  saga["steps"].push_back(saga["steps"][0]);
  saga["payloads"].push_back("{}");
  saga["custom_data"] = R"({"concurrent":true,"orders":{"1":[)" +
                        std::string(80000, '[') + "0" + std::string(80000, ']') + "]}}";
  httplib::Result r = Submit(c, saga);
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(absl::StrContains(r->body, "nested deeper than"));
  // The body itself nested 400,000 levels deep (within the 1 MiB limit).
  r = c.Post("/api/dtmsvr/submit", std::string(400000, '[') + std::string(400000, ']'),
             "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(absl::StrContains(r->body, "nested deeper than"));
  // Finding 3: Steps nested 100,000 levels deep through gRPC.
  auto stub = dtmgimp::Dtm::NewStub(
      grpc::CreateChannel(dtxd.grpc_target(), grpc::InsecureChannelCredentials()));
  dtmgimp::DtmRequest request;
  request.set_gid("deep-2");
  request.set_transtype("saga");
  request.set_steps(std::string(100000, '[') + std::string(100000, ']'));
  grpc::Status s = GrpcSubmit(*stub, request);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(absl::StrContains(s.error_message(), "nested deeper than"));
  CHECK(Query(c, "deep-1")["transaction"].is_null());
  CHECK(Query(c, "deep-2")["transaction"].is_null());
  ExpectServing(c, "after-deep");
  CHECK(dtxd.Terminate() == 0);
}

TEST_CASE("timeouts and step counts beyond the limits are refused") {
  const std::string dir = testing::NewTempDir("dtxd-hostile-limits");
  DtxdProcess dtxd(dir + "/dtx.db");
  httplib::Client c("127.0.0.1", dtxd.http_port());
  int n = 0;
  // Findings 4 and 5: no cap, and values that wrapped negative and were dropped.
  for (const std::string& timeout : std::vector<std::string>{
           "1e6", "3601", "18446744073709551615", "1e300", "-1", "9223372036854775808"}) {
    INFO(timeout);
    const std::string gid = "timeout-" + std::to_string(++n);
    std::string body = Saga(gid, "http://127.0.0.1:9/a").dump();
    body.insert(body.size() - 1, ",\"request_timeout\":" + timeout);
    httplib::Result r = c.Post("/api/dtmsvr/submit", body, "application/json");
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(absl::StrContains(r->body, "request_timeout"));
    CHECK(Query(c, gid)["transaction"].is_null());
  }
  // Finding 6: 5,000 concurrent steps in one submit.
  json many = Saga("many-1", "http://127.0.0.1:9/a");
  many["steps"] = json::array();
  many["payloads"] = json::array();
  for (int i = 0; i < 5000; ++i) {
    many["steps"].push_back({{"action", "http://127.0.0.1:9/a"}, {"compensate", ""}});
  }
  many["custom_data"] = R"({"concurrent":true})";
  httplib::Result r = Submit(c, many);
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(absl::StrContains(r->body, "5000 steps"));
  CHECK(Query(c, "many-1")["transaction"].is_null());
  ExpectServing(c, "after-limits");
  CHECK(dtxd.Terminate() == 0);
}

// However a case ends, its held branch lets go and its client threads are joined.
struct ReleaseAndJoin {
  absl::Notification& release;
  std::vector<std::thread>& clients;
  ~ReleaseAndJoin() {
    if (!release.HasBeenNotified()) release.Notify();
    for (std::thread& t : clients) {
      if (t.joinable()) t.join();
    }
  }
};

TEST_CASE("wait_result aborts past --sync-waits hold no thread while their cancels run") {
  // As the submits above: 8 TCCs whose cancel is held, aborted with wait_result on a
  // dtxd of 4 HTTP threads; the API answers meanwhile, and every abort when released.
  const std::string dir = testing::NewTempDir("dtxd-hostile-aborts");
  absl::Notification release;
  std::atomic<int> held{0};
  HttpBranchServer branch(64);
  branch.Handle("/cancel", [&](const BranchInfo&, const HttpRequest&) {
    ++held;
    release.WaitForNotificationWithTimeout(absl::Seconds(30));
    return absl::OkStatus();
  });
  const std::string url =
      "http://127.0.0.1:" + std::to_string(branch.Start().value()) + "/cancel";
  DtxdProcess dtxd(dir + "/dtx.db", {"--http-threads", "4", "--sync-waits", "1"});
  httplib::Client c("127.0.0.1", dtxd.http_port());
  constexpr int kWaiting = 8;
  for (int i = 0; i < kWaiting; ++i) {
    const std::string gid = absl::StrCat("abort-", i);
    auto post = [&](const std::string& op, const json& body) {
      httplib::Result r =
          c.Post(("/api/dtmsvr/" + op).c_str(), body.dump(), "application/json");
      return r ? r->status : -1;
    };
    REQUIRE(post("prepare", {{"gid", gid}, {"trans_type", "tcc"}}) == 200);
    REQUIRE(post("registerBranch", {{"gid", gid}, {"trans_type", "tcc"},
                                    {"branch_id", "01"}, {"data", "{}"},
                                    {"confirm", url}, {"cancel", url}}) == 200);
  }
  std::vector<std::atomic<int>> statuses(kWaiting);  // 0 until answered
  std::vector<std::thread> clients;
  ReleaseAndJoin joiner{release, clients};
  for (int i = 0; i < kWaiting; ++i) {
    clients.emplace_back([&, i] {
      httplib::Client client("127.0.0.1", dtxd.http_port());
      client.set_read_timeout(60, 0);
      const json abort = {{"gid", absl::StrCat("abort-", i)},
                          {"trans_type", "tcc"},
                          {"wait_result", true},
                          {"request_timeout", 40}};
      httplib::Result r =
          client.Post("/api/dtmsvr/abort", abort.dump(), "application/json");
      statuses[i] = r ? r->status : -1;
    });
  }
  (void)testing::Eventually([&] { return held.load() >= kWaiting; });  // CI is loaded
  // Should one never arrive: which clients had an answer already, and what.
  for (int i = 0; i < kWaiting; ++i) UNSCOPED_INFO("client " << i << ": " << statuses[i]);
  REQUIRE(held.load() == kWaiting);  // every abort is in its cancel call
  c.set_read_timeout(2, 0);
  const auto t0 = std::chrono::steady_clock::now();
  httplib::Result ping = c.Get("/api/ping");
  REQUIRE(ping);
  CHECK(ping->status == 200);
  CHECK(Query(c, "abort-0")["transaction"]["status"] == "aborting");
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
  release.Notify();
  for (std::thread& t : clients) t.join();
  for (int i = 0; i < kWaiting; ++i) {
    INFO(i);
    CHECK(statuses[i] == 200);
    CHECK(Query(c, absl::StrCat("abort-", i))["transaction"]["status"] == "failed");
  }
  CHECK(dtxd.Terminate() == 0);
}

TEST_CASE("wait_result submits past --sync-waits hold no thread while their sagas run") {
  // Finding 4: 64 wait_result submits to a branch that does not answer held all 64
  // HTTP threads. Here 4 threads, 1 of them for a pass run in place: 12 sagas wait on
  // a held branch, and the API still answers everything else at once.
  const std::string dir = testing::NewTempDir("dtxd-hostile-waits");
  absl::Notification release;
  std::atomic<int> held{0};
  HttpBranchServer branch(64);
  branch.Handle("/held", [&](const BranchInfo&, const HttpRequest&) {
    ++held;
    release.WaitForNotificationWithTimeout(absl::Seconds(30));
    return absl::OkStatus();
  });
  const std::string url =
      "http://127.0.0.1:" + std::to_string(branch.Start().value()) + "/held";
  DtxdProcess dtxd(dir + "/dtx.db", {"--http-threads", "4", "--sync-waits", "1"});

  constexpr int kWaiting = 12;
  std::vector<std::atomic<int>> statuses(kWaiting);  // 0 until answered
  std::vector<std::thread> clients;
  ReleaseAndJoin joiner{release, clients};
  for (int i = 0; i < kWaiting; ++i) {
    clients.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", dtxd.http_port());
      c.set_read_timeout(60, 0);
      json saga = Saga(absl::StrCat("held-", i), url);
      saga["wait_result"] = true;
      saga["request_timeout"] = 40;
      httplib::Result r = Submit(c, saga);
      statuses[i] = r ? r->status : -1;
    });
  }
  (void)testing::Eventually([&] { return held.load() >= kWaiting; });  // CI is loaded
  // Should one never arrive: which clients had an answer already, and what.
  for (int i = 0; i < kWaiting; ++i) UNSCOPED_INFO("client " << i << ": " << statuses[i]);
  REQUIRE(held.load() == kWaiting);  // every saga is in its branch call

  // Meanwhile: ping, newGid, query and a submit without wait_result, each at once.
  httplib::Client c("127.0.0.1", dtxd.http_port());
  c.set_read_timeout(2, 0);
  const auto t0 = std::chrono::steady_clock::now();
  httplib::Result ping = c.Get("/api/ping");
  REQUIRE(ping);
  CHECK(ping->status == 200);
  httplib::Result gid = c.Get("/api/dtmsvr/newGid");
  REQUIRE(gid);
  CHECK(gid->status == 200);
  CHECK(Query(c, "held-0")["transaction"]["status"] == "submitted");
  HttpBranchServer quick;
  quick.Handle("/ok", [](const BranchInfo&, const HttpRequest&) { return absl::OkStatus(); });
  const std::string ok_url =
      "http://127.0.0.1:" + std::to_string(quick.Start().value()) + "/ok";
  httplib::Result submitted = Submit(c, Saga("not-waiting", ok_url));
  REQUIRE(submitted);
  CHECK(submitted->status == 200);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));

  // Released, every waiting submit gets its answer: the saga succeeded.
  release.Notify();
  for (std::thread& t : clients) t.join();
  for (int i = 0; i < kWaiting; ++i) {
    INFO(i);
    CHECK(statuses[i] == 200);
    CHECK(Query(c, absl::StrCat("held-", i))["transaction"]["status"] == "succeed");
  }
  ExpectServing(c, "after-waits");
  CHECK(dtxd.Terminate() == 0);
}

// A TCP port on 127.0.0.1 that completes connections (the kernel's backlog) and never
// reads or answers: a database that hangs.
class SilentPort {
 public:
  SilentPort() { fd_ = testing::ListenOnLoopback(&port_); }
  ~SilentPort() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Finding 8: dtxd with a PostgreSQL address that accepts and never answers.
TEST_CASE("a database that never answers: start-up gives up, SIGTERM ends it at once") {
  SilentPort db;
  const std::string store =
      "postgresql://dtx:dtx@127.0.0.1:" + std::to_string(db.port()) + "/dtx";
  // The shell's line says the process runs; exec keeps its pid for dtxd.
  const std::string command = absl::StrCat(
      "echo started; exec ", DTX_DTXD_BINARY,
      " --http-listen 127.0.0.1:0 --grpc-listen 127.0.0.1:0 --store ", store);
  {
    testing::ChildProcess dtxd({"/bin/sh", "-c", command});
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const auto start = std::chrono::steady_clock::now();
    CHECK(dtxd.Terminate() == 1);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
  }
  {
    testing::ChildProcess dtxd({"/bin/sh", "-c", command});
    const auto start = std::chrono::steady_clock::now();
    CHECK(dtxd.Wait() == 1);  // the connect deadline (10 s), not for ever
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));
  }
}

// Finding 12: no authentication. Tokens from a file; both APIs and both submitters.
TEST_CASE("with --auth-token-file both APIs want a token, and the submitters send it") {
  const std::string dir = testing::NewTempDir("dtxd-auth");
  const std::string token_file = dir + "/tokens";
  const std::string token = "first-token-0123456789", second = "second-token-abcdefghij";
  {
    std::ofstream out(token_file);
    out << "# dtxd tokens\n" << token << "\n\n  " << second << "  \n";
  }
  DtxdProcess dtxd(dir + "/dtx.db", {"--auth-token-file", token_file});
  HttpBranchServer branch;
  branch.Handle(
      "/ok", [](const BranchInfo&, const HttpRequest&) { return absl::OkStatus(); });
  const std::string url =
      "http://127.0.0.1:" + std::to_string(branch.Start().value()) + "/ok";

  httplib::Client anonymous("127.0.0.1", dtxd.http_port());
  httplib::Client wrong("127.0.0.1", dtxd.http_port());
  wrong.set_bearer_token_auth(token + "x");
  httplib::Client user("127.0.0.1", dtxd.http_port());
  user.set_bearer_token_auth(second);
  for (httplib::Client* c : {&anonymous, &wrong}) {
    httplib::Result r = Submit(*c, Saga("auth-1", url));
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(r->get_header_value("WWW-Authenticate") == "Bearer");
    r = c->Get("/api/dtmsvr/query?gid=auth-1");
    REQUIRE(r);
    CHECK(r->status == 401);
    r = c->Post("/api/dtmsvr/forceStop", R"({"gid":"auth-1"})", "application/json");
    REQUIRE(r);
    CHECK(r->status == 401);
    r = c->Get("/api/ping");  // health checks stay open
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  json saga = Saga("auth-2", url);
  saga["branch_headers"] = {{"Authorization", "Bearer branch-secret"}};
  saga["wait_result"] = true;
  httplib::Result r = Submit(user, saga);
  REQUIRE(r);
  CHECK(r->status == 200);
  r = user.Get("/api/dtmsvr/query?gid=auth-2");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  json q = json::parse(r->body);
  CHECK(q["transaction"]["status"] == "succeed");
  CHECK(q["transaction"]["branch_headers"]["Authorization"] == "Bearer branch-secret");
  r = user.Get("/api/dtmsvr/query?gid=auth-1");
  REQUIRE(r);
  CHECK(json::parse(r->body)["transaction"].is_null());  // nothing stored for a 401

  auto stub = dtmgimp::Dtm::NewStub(
      grpc::CreateChannel(dtxd.grpc_target(), grpc::InsecureChannelCredentials()));
  dtmgimp::DtmRequest request;
  request.set_gid("auth-3");
  request.set_transtype("saga");
  CHECK(GrpcSubmit(*stub, request).error_code() == grpc::StatusCode::UNAUTHENTICATED);
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token);
    google::protobuf::Empty reply;
    CHECK(stub->Submit(&ctx, request, &reply).ok());
  }

  for (const bool with_token : {false, true}) {
    INFO("with token: " << with_token);
    HttpSubmitterOptions http_options;
    http_options.server = dtxd.http_base();
    if (with_token) http_options.auth_token = token;
    HttpSubmitter http(http_options);
    GrpcSubmitterOptions grpc_options;
    grpc_options.target = dtxd.grpc_target();
    if (with_token) grpc_options.auth_token = second;
    GrpcSubmitter grpc_submitter(grpc_options);
    for (Submitter* submitter :
         std::initializer_list<Submitter*>{&http, &grpc_submitter}) {
      TransGlobal g;
      g.gid = GidGenerator().Next();
      g.steps = {{url, url}};
      g.payloads = {"{}"};
      absl::Status s = submitter->Submit(g);
      if (with_token) {
        CHECK(s.ok());
      } else {
        CHECK(absl::IsUnauthenticated(s));
      }
    }
  }
  CHECK(dtxd.Terminate() == 0);
}

TEST_CASE("without tokens: branch header values are withheld, and only loopback") {
  const std::string dir = testing::NewTempDir("dtxd-open");
  {
    DtxdProcess dtxd(dir + "/dtx.db");
    httplib::Client c("127.0.0.1", dtxd.http_port());
    json saga = Saga("open-1", "http://127.0.0.1:9/a");
    saga["branch_headers"] = {{"Authorization", "Bearer branch-secret"}};
    httplib::Result r = Submit(c, saga);
    REQUIRE(r);
    REQUIRE(r->status == 200);
    for (const std::string& path :
         std::vector<std::string>{"/api/dtmsvr/query?gid=open-1", "/api/dtmsvr/all",
                                  "/api/dtmsvr/stuck?older_than=0"}) {
      INFO(path);
      r = c.Get(path.c_str());
      REQUIRE(r);
      CHECK(r->status == 200);
      CHECK(absl::StrContains(r->body, "Authorization"));
      CHECK(!absl::StrContains(r->body, "branch-secret"));
    }
    CHECK(dtxd.Terminate() == 0);
  }
  // A non-loopback address without a token is refused before anything listens.
  for (const std::string& listen : std::vector<std::string>{
           "--http-listen 0.0.0.0:0 --grpc-listen 127.0.0.1:0",
           "--http-listen 127.0.0.1:0 --grpc-listen 0.0.0.0:0",
           "--http-listen 127.0.0.1.nip.io:0 --grpc-listen 127.0.0.1:0"}) {
    INFO(listen);
    testing::ChildProcess refused(
        {"/bin/sh", "-c",
         absl::StrCat(DTX_DTXD_BINARY, " ", listen, " --store sqlite://", dir,
                      "/dtx.db 2>/dev/null; echo exit $?")});
    CHECK(refused.ready_line() == "exit 2\n");
    refused.Wait();
  }
}

// Finding 14: any client could make dtxd call any address.
TEST_CASE("an allow-list (dtxd --branch-allow) confines branch calls at submit") {
  const std::string dir = testing::NewTempDir("dtxd-allow");
  DtxdProcess dtxd(dir + "/dtx.db", {"--branch-allow", "127.0.0.0/8,10.1.2.3:8080"});
  httplib::Client c("127.0.0.1", dtxd.http_port());
  int n = 0;
  for (const std::string& url : std::vector<std::string>{
           "http://169.254.169.254/latest/meta-data/", "http://10.1.2.3:9090/a",
           "http://localhost:9/a", "http://[::1]:9/a"}) {
    INFO(url);
    const std::string gid = "allow-" + std::to_string(++n);
    httplib::Result r = Submit(c, Saga(gid, url));
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(absl::StrContains(r->body, "allow-list"));
    CHECK(Query(c, gid)["transaction"].is_null());
  }
  json grpc_saga = Saga("allow-grpc", "169.254.169.254:80/x.Y/Z");
  grpc_saga["protocol"] = "grpc";
  httplib::Result r = Submit(c, grpc_saga);
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(absl::StrContains(r->body, "allow-list"));
  // An allowed address is called.
  ExpectServing(c, "allow-ok");
  CHECK(dtxd.Terminate() == 0);
}

}  // namespace
}  // namespace dtx
