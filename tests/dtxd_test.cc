// dtxd as a separate process, driven as DTM's own clients drive DTM: raw JSON over
// HTTP and the dtmgimp.Dtm gRPC service; bad input; graceful stop and restart.
#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/match.h"
#include "busi.grpc.pb.h"
#include "dtmgimp.grpc.pb.h"
#include "dtx/gid.h"
#include "dtx/grpc/grpc_branch.h"
#include "dtx/grpc/grpc_submitter.h"
#include "dtx/http/http_branch.h"
#include "dtx/http/http_submitter.h"
#include "dtx/result.h"
#include "dtx/saga.h"
#include "dtxd_process.h"
#include "test_util.h"

namespace dtx {
namespace {

using nlohmann::json;
using testing::DtxdProcess;

// HTTP branches: /ok, /no (FAILURE on action), /flaky (ONGOING until `flaky_ok`).
struct Branches {
  Branches() {
    server.Handle("/ok", [this](const BranchInfo& info, const dtx::HttpRequest&) {
      Record(info, "ok");
      return absl::OkStatus();
    });
    server.Handle("/no", [this](const BranchInfo& info, const dtx::HttpRequest&) {
      Record(info, "no");
      return info.op == "action" ? FailureError("insufficient stock") : absl::OkStatus();
    });
    server.Handle("/flaky", [this](const BranchInfo& info, const dtx::HttpRequest&) {
      Record(info, "flaky");
      return flaky_ok ? absl::OkStatus() : OngoingError("not yet");
    });
    base = "http://127.0.0.1:" + std::to_string(server.Start().value());
  }
  void Record(const BranchInfo& info, const std::string& name) {
    absl::MutexLock lock(&mu);
    calls.push_back(name + ":" + info.op);
  }
  std::vector<std::string> Calls() {
    absl::MutexLock lock(&mu);
    return calls;
  }

  HttpBranchServer server;
  std::string base;
  std::atomic<bool> flaky_ok{false};
  absl::Mutex mu;
  std::vector<std::string> calls;
};

httplib::Result Post(httplib::Client& c, const std::string& path,
                     const std::string& body) {
  return c.Post(("/api/dtmsvr/" + path).c_str(), body, "application/json");
}

json Query(httplib::Client& c, const std::string& gid) {
  httplib::Result r = c.Get(("/api/dtmsvr/query?gid=" + gid).c_str());
  REQUIRE(r);
  REQUIRE(r->status == 200);
  return json::parse(r->body);
}

std::string SagaJson(const std::string& gid, const std::string& a1, const std::string& a2,
                     const std::string& compensate, bool wait) {
  return json{{"gid", gid},
              {"trans_type", "saga"},
              {"steps",
               {{{"action", a1}, {"compensate", compensate}},
                {{"action", a2}, {"compensate", compensate}}}},
              {"payloads", {R"({"amount":30})", R"({"amount":30})"}},
              {"wait_result", wait},
              {"retry_interval", 1}}
      .dump();
}

TEST_CASE("dtxd runs a saga sent as DTM's raw JSON over HTTP") {
  const std::string dir = testing::NewTempDir("dtxd-http");
  Branches branches;
  DtxdProcess dtxd(dir + "/dtx.db");
  httplib::Client c("127.0.0.1", dtxd.http_port());

  httplib::Result gid = c.Get("/api/dtmsvr/newGid");
  REQUIRE(gid);
  CHECK(json::parse(gid->body)["dtm_result"] == "SUCCESS");
  CHECK(!json::parse(gid->body)["gid"].get<std::string>().empty());

  httplib::Result ok = Post(c, "submit",
                            SagaJson("http-ok", branches.base + "/ok",
                                     branches.base + "/ok", branches.base + "/ok", true));
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(json::parse(ok->body) == json{{"dtm_result", "SUCCESS"}});
  json q = Query(c, "http-ok");
  CHECK(q["transaction"]["gid"] == "http-ok");
  CHECK(q["transaction"]["status"] == "succeed");
  CHECK(q["transaction"]["trans_type"] == "saga");
  CHECK(q["transaction"]["protocol"] == "http");
  REQUIRE(q["branches"].size() == 4);
  CHECK(q["branches"][0]["op"] == "compensate");
  CHECK(q["branches"][0]["status"] == "prepared");
  CHECK(q["branches"][1]["op"] == "action");
  CHECK(q["branches"][1]["status"] == "succeed");
  CHECK(q["branches"][1]["bin_data"] == "eyJhbW91bnQiOjMwfQ==");  // base64 of the payload

  httplib::Result no = Post(c, "submit",
                            SagaJson("http-no", branches.base + "/ok",
                                     branches.base + "/no", branches.base + "/ok", true));
  REQUIRE(no);
  CHECK(no->status == 409);
  json body = json::parse(no->body);
  CHECK(body["dtm_result"] == "FAILURE");
  CHECK(absl::StrContains(body["message"].get<std::string>(), "insufficient stock"));
  CHECK(Query(c, "http-no")["transaction"]["status"] == "failed");

  // Without wait_result: 200 at once, and the saga still finishes.
  REQUIRE(Post(c, "submit",
               SagaJson("http-async", branches.base + "/ok", branches.base + "/ok", "",
                        false))
              ->status == 200);
  for (int i = 0; i < 100 && Query(c, "http-async")["transaction"]["status"] != "succeed";
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(Query(c, "http-async")["transaction"]["status"] == "succeed");
  CHECK(dtxd.Terminate() == 0);
}

TEST_CASE("dtxd runs TCC and 2-phase messages as DTM's clients drive them over HTTP") {
  const std::string dir = testing::NewTempDir("dtxd-tcc");
  Branches branches;
  DtxdProcess dtxd(dir + "/dtx.db");
  httplib::Client c("127.0.0.1", dtxd.http_port());
  const std::string ok = branches.base + "/ok", no = branches.base + "/no";
  auto register_branch = [&](const std::string& gid, const std::string& id) {
    // DTM's clients send a flat object of strings.
    return Post(c, "registerBranch",
                json{{"gid", gid}, {"trans_type", "tcc"}, {"branch_id", id},
                     {"data", R"({"amount":30})"}, {"confirm", ok}, {"cancel", ok}}
                    .dump());
  };

  // TCC: prepare, register two branches (the client calls the tries), submit.
  REQUIRE(Post(c, "prepare", R"({"gid":"tcc-1","trans_type":"tcc"})")->status == 200);
  REQUIRE(register_branch("tcc-1", "01")->status == 200);
  REQUIRE(register_branch("tcc-1", "02")->status == 200);
  httplib::Result submitted =
      Post(c, "submit", R"({"gid":"tcc-1","trans_type":"tcc","wait_result":true})");
  REQUIRE(submitted);
  CHECK(submitted->status == 200);
  CHECK(branches.Calls() == std::vector<std::string>{"ok:confirm", "ok:confirm"});
  json q = Query(c, "tcc-1");
  CHECK(q["transaction"]["status"] == "succeed");
  REQUIRE(q["branches"].size() == 4);
  CHECK(q["branches"][0]["op"] == "cancel");
  CHECK(q["branches"][1]["op"] == "confirm");
  CHECK(q["branches"][1]["status"] == "succeed");
  CHECK(q["branches"][1]["bin_data"] == "eyJhbW91bnQiOjMwfQ==");
  CHECK(register_branch("tcc-1", "03")->status == 409);

  // TCC: abort runs the cancels; aborting a saga is 409.
  REQUIRE(Post(c, "prepare", R"({"gid":"tcc-2","trans_type":"tcc"})")->status == 200);
  REQUIRE(register_branch("tcc-2", "01")->status == 200);
  REQUIRE(Post(c, "abort",
               R"({"gid":"tcc-2","trans_type":"tcc","wait_result":true,)"
               R"("rollback_reason":"try 02 refused"})")
              ->status == 200);
  q = Query(c, "tcc-2");
  CHECK(q["transaction"]["status"] == "failed");
  CHECK(q["transaction"]["rollback_reason"] == "try 02 refused");
  REQUIRE(Post(c, "submit", SagaJson("saga-1", ok, ok, "", true))->status == 200);
  CHECK(Post(c, "abort", R"({"gid":"saga-1","trans_type":"saga"})")->status == 409);

  // msg: prepare with the actions and query_prepared, then submit.
  const std::string msg = json{{"gid", "msg-1"},
                               {"trans_type", "msg"},
                               {"steps", {{{"action", ok}}, {{"action", ok}}}},
                               {"payloads", {"a", "b"}},
                               {"query_prepared", ok},
                               {"wait_result", true}}
                              .dump();
  REQUIRE(Post(c, "prepare", msg)->status == 200);
  CHECK(Query(c, "msg-1")["transaction"]["status"] == "prepared");
  CHECK(Post(c, "submit", msg)->status == 200);
  q = Query(c, "msg-1");
  CHECK(q["transaction"]["status"] == "succeed");
  REQUIRE(q["branches"].size() == 2);
  CHECK(q["branches"][0]["op"] == "action");
  CHECK(q["branches"][1]["branch_id"] == "02");

  // `all` honours gid and transType.
  auto all = [&](const std::string& query) {
    httplib::Result r = c.Get(("/api/dtmsvr/all?" + query).c_str());
    REQUIRE(r);
    REQUIRE(r->status == 200);
    std::vector<std::string> gids;
    const json body = json::parse(r->body);
    for (const json& t : body["transactions"]) gids.push_back(t["gid"]);
    return gids;
  };
  CHECK(all("gid=unknown").empty());
  CHECK(all("gid=tcc-2") == std::vector<std::string>{"tcc-2"});
  CHECK(all("gid=tcc-2&status=succeed").empty());
  CHECK(all("transType=tcc") == std::vector<std::string>{"tcc-2", "tcc-1"});
  CHECK(all("transType=msg&status=succeed") == std::vector<std::string>{"msg-1"});
  CHECK(dtxd.Terminate() == 0);
}

TEST_CASE("dtxd serves TCC and 2-phase messages over DTM's gRPC service") {
  const std::string dir = testing::NewTempDir("dtxd-tcc-grpc");
  Branches branches;
  DtxdProcess dtxd(dir + "/dtx.db");
  httplib::Client c("127.0.0.1", dtxd.http_port());
  auto stub = dtmgimp::Dtm::NewStub(
      grpc::CreateChannel(dtxd.grpc_target(), grpc::InsecureChannelCredentials()));
  auto call = [&](auto method, const auto& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    google::protobuf::Empty reply;
    return ((*stub).*method)(&context, request, &reply);
  };
  // HTTP branches, as a gRPC client of DTM may name them ("protocol" in ReqExtra).
  dtmgimp::DtmRequest tcc;
  tcc.set_gid("grpc-tcc-1");
  tcc.set_transtype("tcc");
  (*tcc.mutable_reqextra())["protocol"] = "http";
  REQUIRE(call(&dtmgimp::Dtm::Stub::Prepare, tcc).ok());
  dtmgimp::DtmBranchRequest branch;
  branch.set_gid("grpc-tcc-1");
  branch.set_transtype("tcc");
  branch.set_branchid("01");
  branch.set_busipayload(std::string("\0\1", 2));
  (*branch.mutable_data())["confirm"] = branches.base + "/ok";
  (*branch.mutable_data())["cancel"] = branches.base + "/ok";
  REQUIRE(call(&dtmgimp::Dtm::Stub::RegisterBranch, branch).ok());
  tcc.mutable_transoptions()->set_waitresult(true);
  grpc::Status submitted = call(&dtmgimp::Dtm::Stub::Submit, tcc);
  CHECK(submitted.ok());
  json q = Query(c, "grpc-tcc-1");
  CHECK(q["transaction"]["status"] == "succeed");
  CHECK(q["branches"][1]["bin_data"] == "AAE=");
  // Registering on a TCC that ended: ABORTED (FAILURE).
  branch.set_branchid("02");
  CHECK(call(&dtmgimp::Dtm::Stub::RegisterBranch, branch).error_code() ==
        grpc::StatusCode::ABORTED);

  dtmgimp::DtmRequest msg;
  msg.set_gid("grpc-msg-1");
  msg.set_transtype("msg");
  (*msg.mutable_reqextra())["protocol"] = "http";
  msg.set_steps(json::array({{{"action", branches.base + "/ok"}}}).dump());
  msg.add_binpayloads("x");
  msg.set_queryprepared(branches.base + "/ok");
  REQUIRE(call(&dtmgimp::Dtm::Stub::Prepare, msg).ok());
  REQUIRE(call(&dtmgimp::Dtm::Stub::Abort, msg).ok());
  CHECK(Query(c, "grpc-msg-1")["transaction"]["status"] == "failed");
  CHECK(call(&dtmgimp::Dtm::Stub::Submit, msg).error_code() == grpc::StatusCode::ABORTED);
  CHECK(branches.Calls() == std::vector<std::string>{"ok:confirm"});
  CHECK(dtxd.Terminate() == 0);
}

TEST_CASE("dtxd answers bad requests with a clear 4xx and keeps running") {
  const std::string dir = testing::NewTempDir("dtxd-bad");
  Branches branches;
  DtxdProcess dtxd(dir + "/dtx.db", {"--max-body-bytes", "65536"});
  httplib::Client c("127.0.0.1", dtxd.http_port());
  auto expect = [&](httplib::Result r, int status, const std::string& message) {
    REQUIRE(r);
    CHECK(r->status == status);
    CHECK(absl::StrContains(r->body, message));
  };
  expect(Post(c, "submit", "{not json"), 400, "malformed JSON");
  expect(Post(c, "submit", R"({"gid":"x1","trans_type":"2pc"})"), 400,
         "unknown trans_type");
  expect(Post(c, "submit", R"({"trans_type":"saga"})"), 400, "missing gid");
  expect(Post(c, "submit", R"({"gid":"bad gid","trans_type":"saga"})"), 400,
         "invalid gid");
  expect(Post(c, "submit", R"({"gid":"x2","trans_type":"saga","steps":[{"action":1}]})"),
         400, "must be a URL string");
  expect(Post(c, "submit", std::string(100000, '{')), 413, "too large");
  expect(Post(c, "submit", R"({"gid":"x3","trans_type":"xa"})"), 501, "not supported yet");
  expect(Post(c, "prepare", R"({"gid":"x3","trans_type":"saga"})"), 400,
         "a saga is submitted, not prepared");
  expect(Post(c, "abort", R"({"gid":"x4","trans_type":"tcc"})"), 404, "no transaction");
  expect(Post(c, "registerBranch", R"({"gid":"x4","branch_id":"01"})"), 404,
         "no transaction");
  expect(Post(c, "registerBranch", R"({"gid":"x4","branch_id":"0 1"})"), 400,
         "invalid branch_id");
  expect(Post(c, "registerBranch", R"({"gid":"x4","trans_type":"xa","branch_id":"01"})"),
         501, "not supported yet");
  expect(c.Get("/api/dtmsvr/query"), 400, "missing gid");
  expect(c.Get("/api/dtmsvr/query?gid=unknown-1"), 200, R"("transaction":null)");
  expect(c.Get("/api/dtmsvr/all?limit=-1"), 400, "positive integers");
  expect(Post(c, "forceStop", R"({"gid":"unknown-2"})"), 404, "no transaction");
  expect(Post(c, "forceStop", "[1"), 400, "malformed JSON");
  expect(Post(c, "resetNextCronTime", "{}"), 400, "missing gid");
  expect(c.Get("/api/dtmsvr/nope"), 404, "no such API");

  // A finished transaction submitted again is 409; forceStop and abort of it too.
  REQUIRE(Post(c, "submit",
               SagaJson("done-1", branches.base + "/ok", branches.base + "/ok", "", true))
              ->status == 200);
  expect(Post(c, "submit",
              SagaJson("done-1", branches.base + "/ok", branches.base + "/ok", "", true)),
         409, "already succeeded");
  expect(Post(c, "forceStop", R"({"gid":"done-1"})"), 409, "already ended");
  expect(Post(c, "abort", R"({"gid":"done-1","trans_type":"saga"})"), 409,
         "only a prepared TCC or message");

  // Nothing of the bad requests was stored; the server still answers.
  httplib::Result all = c.Get("/api/dtmsvr/all");
  REQUIRE(all);
  json list = json::parse(all->body)["transactions"];
  REQUIRE(list.size() == 1);
  CHECK(list[0]["gid"] == "done-1");
  httplib::Result ping = c.Get("/api/ping");
  REQUIRE(ping);
  CHECK(ping->status == 200);
  httplib::Result version = c.Get("/api/dtmsvr/version");
  REQUIRE(version);
  CHECK(absl::StrContains(version->body, "dtx"));
  CHECK(dtxd.Terminate() == 0);
}

TEST_CASE("dtxd reads its options from a config file") {
  const std::string dir = testing::NewTempDir("dtxd-config");
  {
    std::FILE* f = std::fopen((dir + "/dtxd.ini").c_str(), "w");
    REQUIRE(f != nullptr);
    std::fputs("# dtxd options\nmax-body-bytes = 500\nretry-interval = 7\n", f);
    std::fclose(f);
  }
  DtxdProcess dtxd(dir + "/dtx.db", {"--config", dir + "/dtxd.ini"});
  httplib::Client c("127.0.0.1", dtxd.http_port());
  httplib::Result big = Post(c, "submit", std::string(600, ' '));
  REQUIRE(big);
  CHECK(big->status == 413);
  Branches branches;
  REQUIRE(
      Post(c, "submit",
           json{{"gid", "cfg-1"},
                {"trans_type", "saga"},
                {"steps", {{{"action", branches.base + "/flaky"}, {"compensate", ""}}}},
                {"payloads", {"{}"}},
                {"wait_result", true}}
               .dump())
          ->status == 409);
  json q = Query(c, "cfg-1");
  CHECK(q["transaction"]["next_cron_interval"] == 7);  // the configured retry interval
  CHECK(dtxd.Terminate() == 0);
}

class BusiService final : public dtxtest::Busi::Service {
 public:
  grpc::Status Act(grpc::ServerContext* context, const dtxtest::BusiRequest* request,
                   dtxtest::BusiReply*) override {
    absl::StatusOr<BranchInfo> info = BranchInfoFromContext(*context);
    if (!info.ok()) return ToGrpcStatus(info.status());
    ++calls;
    if (request->want() == "failure" && info->op == "action") {
      return ToGrpcStatus(FailureError("no stock"));
    }
    return grpc::Status::OK;
  }
  std::atomic<int> calls{0};
};

TEST_CASE("dtxd serves DTM's dtmgimp.Dtm gRPC service") {
  const std::string dir = testing::NewTempDir("dtxd-grpc");
  BusiService busi;
  int busi_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &busi_port);
  builder.RegisterService(&busi);
  std::unique_ptr<grpc::Server> busi_server = builder.BuildAndStart();
  const std::string url = "127.0.0.1:" + std::to_string(busi_port) + "/dtxtest.Busi/Act";

  DtxdProcess dtxd(dir + "/dtx.db");
  auto stub = dtmgimp::Dtm::NewStub(
      grpc::CreateChannel(dtxd.grpc_target(), grpc::InsecureChannelCredentials()));
  auto request = [&](const std::string& gid, const std::string& want) {
    dtmgimp::DtmRequest r;
    r.set_gid(gid);
    r.set_transtype("saga");
    r.mutable_transoptions()->set_waitresult(true);
    r.set_steps(json::array({{{"action", url}, {"compensate", url}},
                             {{"action", url}, {"compensate", url}}})
                    .dump());
    dtxtest::BusiRequest p1, p2;
    p1.set_amount(1);
    p2.set_amount(2);
    p2.set_want(want);
    r.add_binpayloads(p1.SerializeAsString());
    r.add_binpayloads(p2.SerializeAsString());
    return r;
  };

  {
    grpc::ClientContext ctx;
    google::protobuf::Empty empty;
    dtmgimp::DtmGidReply reply;
    REQUIRE(stub->NewGid(&ctx, empty, &reply).ok());
    CHECK(!reply.gid().empty());
  }
  {
    grpc::ClientContext ctx;
    google::protobuf::Empty reply;
    grpc::Status s = stub->Submit(&ctx, request("grpc-ok", ""), &reply);
    CHECK(s.ok());
    CHECK(busi.calls == 2);
  }
  {
    grpc::ClientContext ctx;
    google::protobuf::Empty reply;
    grpc::Status s = stub->Submit(&ctx, request("grpc-no", "failure"), &reply);
    CHECK(s.error_code() == grpc::StatusCode::ABORTED);
    CHECK(absl::StrContains(s.error_message(), "no stock"));
    CHECK(busi.calls == 6);  // 2 actions, 2 compensations
  }
  {
    grpc::ClientContext ctx;
    google::protobuf::Empty reply;
    dtmgimp::DtmRequest bad = request("grpc-bad", "");
    bad.set_steps("[{not json");
    CHECK(stub->Submit(&ctx, bad, &reply).error_code() ==
          grpc::StatusCode::INVALID_ARGUMENT);
  }
  httplib::Client c("127.0.0.1", dtxd.http_port());
  json q = Query(c, "grpc-ok");
  CHECK(q["transaction"]["status"] == "succeed");
  CHECK(q["transaction"]["protocol"] == "grpc");
  CHECK(Query(c, "grpc-no")["transaction"]["status"] == "failed");
  CHECK(Query(c, "grpc-bad")["transaction"].is_null());
  CHECK(dtxd.Terminate() == 0);
  busi_server->Shutdown();
}

TEST_CASE("dtxd stopped by SIGTERM, or killed, loses nothing") {
  const std::string dir = testing::NewTempDir("dtxd-restart");
  Branches branches;
  {
    DtxdProcess dtxd(dir + "/dtx.db", {"--lease", "1", "--poll-interval", "0.1"});
    httplib::Client c("127.0.0.1", dtxd.http_port());
    REQUIRE(Post(c, "submit",
                 SagaJson("restart-1", branches.base + "/ok", branches.base + "/flaky",
                          "", true))
                ->status == 409);  // wait result not return success: still ONGOING
    CHECK(Query(c, "restart-1")["transaction"]["status"] == "submitted");
    httplib::Result stuck = c.Get("/api/dtmsvr/stuck?older_than=0");
    REQUIRE(stuck);
    json list = json::parse(stuck->body)["transactions"];
    REQUIRE(list.size() == 1);
    CHECK(list[0]["gid"] == "restart-1");
    CHECK(absl::StrContains(list[0]["result"].get<std::string>(), "ONGOING"));
    CHECK(dtxd.Terminate() == 0);
  }
  branches.flaky_ok = true;
  {
    DtxdProcess dtxd(dir + "/dtx.db", {"--lease", "1", "--poll-interval", "0.1"});
    httplib::Client c("127.0.0.1", dtxd.http_port());
    for (int i = 0;
         i < 100 && Query(c, "restart-1")["transaction"]["status"] != "succeed"; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(Query(c, "restart-1")["transaction"]["status"] == "succeed");
    branches.flaky_ok = false;
    REQUIRE(Post(c, "submit",
                 SagaJson("restart-2", branches.base + "/ok", branches.base + "/flaky",
                          "", false))
                ->status == 200);
    dtxd.Kill();
  }
  branches.flaky_ok = true;
  {
    DtxdProcess dtxd(dir + "/dtx.db", {"--lease", "1", "--poll-interval", "0.1"});
    httplib::Client c("127.0.0.1", dtxd.http_port());
    for (int i = 0;
         i < 100 && Query(c, "restart-2")["transaction"]["status"] != "succeed"; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(Query(c, "restart-2")["transaction"]["status"] == "succeed");
    CHECK(dtxd.Terminate() == 0);
  }
}

TEST_CASE("dtxd --answer-before-final-write, killed after its answer, loses nothing") {
  const std::string dir = testing::NewTempDir("dtxd-answer-first");
  Branches branches;
  {
    // Final writes wait for company for a second (the longest allowed): the window
    // stays open long enough to look into it.
    DtxdProcess dtxd(dir + "/dtx.db", {"--answer-before-final-write", "--lazy-write-wait",
                                       "1", "--lease", "3"});
    httplib::Client c("127.0.0.1", dtxd.http_port());
    httplib::Result r =
        Post(c, "submit",
             SagaJson("early-1", branches.base + "/ok", branches.base + "/ok", "", true));
    REQUIRE(r);
    CHECK(r->status == 200);  // answered: both actions succeeded
    CHECK(Query(c, "early-1")["transaction"]["status"] == "submitted");  // not written
    CHECK(branches.Calls() == std::vector<std::string>{"ok:action", "ok:action"});
    dtxd.Kill();
  }
  {
    // The next coordinator (strict) finds it submitted and, once the killed one's
    // lease has run out, drives it again.
    DtxdProcess dtxd(dir + "/dtx.db", {"--lease", "1", "--poll-interval", "0.1"});
    httplib::Client c("127.0.0.1", dtxd.http_port());
    for (int i = 0; i < 200 && Query(c, "early-1")["transaction"]["status"] != "succeed";
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(Query(c, "early-1")["transaction"]["status"] == "succeed");
    // Called again: the second action, whose answer only the final write carried (a
    // lease shorter than request_timeout + 1 s is renewed before each call, and the
    // renewal stored the first action's answer).
    CHECK(branches.Calls() ==
          std::vector<std::string>{"ok:action", "ok:action", "ok:action"});
    CHECK(dtxd.Terminate() == 0);
  }
}

TEST_CASE("the C++ Saga submits to dtxd over HTTP and over gRPC") {
  const std::string dir = testing::NewTempDir("dtxd-remote");
  Branches branches;
  DtxdProcess dtxd(dir + "/dtx.db");
  HttpSubmitterOptions http_options;
  http_options.server = dtxd.http_base() + "/";  // as an address is often written
  HttpSubmitter http(http_options);
  GrpcSubmitterOptions grpc_options;
  grpc_options.target = dtxd.grpc_target();
  GrpcSubmitter grpc(grpc_options);
  httplib::Client c("127.0.0.1", dtxd.http_port());
  GidGenerator gids;
  for (Submitter* submitter : std::vector<Submitter*>{&http, &grpc}) {
    const std::string ok_gid = gids.Next(), no_gid = gids.Next(), later_gid = gids.Next();
    Saga ok(submitter, ok_gid);
    ok.Add(branches.base + "/ok", branches.base + "/ok", "{}")
        .Add(branches.base + "/ok", branches.base + "/ok", "{}")
        .WaitResult(true);
    CHECK(ok.Submit().ok());
    CHECK(Query(c, ok_gid)["transaction"]["status"] == "succeed");

    Saga no(submitter, no_gid);
    no.Add(branches.base + "/ok", branches.base + "/ok", "{}")
        .Add(branches.base + "/no", branches.base + "/ok", "{}")
        .WaitResult(true);
    absl::Status refused = no.Submit();
    CHECK(IsFailure(refused));
    CHECK(absl::StrContains(refused.message(), "insufficient stock"));

    Saga later(submitter, later_gid);
    later.Add(branches.base + "/flaky", "", "{}").WaitResult(true);
    CHECK(IsOngoing(later.Submit()));
    CHECK(Query(c, later_gid)["transaction"]["status"] == "submitted");

    Saga bad(submitter, "bad gid");
    CHECK(absl::IsInvalidArgument(bad.Submit()));
  }
  CHECK(dtxd.Terminate() == 0);
  // Nobody listens any more.
  CHECK(absl::IsUnavailable(Saga(&http, gids.Next()).Add("", "", "").Submit()));
}

}  // namespace
}  // namespace dtx
