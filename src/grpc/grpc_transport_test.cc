// GrpcTransport and the gRPC branch helpers over real sockets on 127.0.0.1.
#include "dtx/grpc/grpc_transport.h"

#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "busi.grpc.pb.h"
#include "dtx/grpc/grpc_branch.h"
#include "dtx/result.h"
#include "dtx/saga.h"
#include "saga_fixture.h"
#include "test_util.h"

namespace dtx {
namespace {

class BusiService final : public dtxtest::Busi::Service {
 public:
  grpc::Status Act(grpc::ServerContext* context, const dtxtest::BusiRequest* request,
                   dtxtest::BusiReply* reply) override {
    absl::StatusOr<BranchInfo> info = BranchInfoFromContext(*context);
    {
      absl::MutexLock lock(&mu);
      infos.push_back(info.ok() ? info->gid + "/" + info->branch_id + "/" + info->op
                                : std::string(info.status().message()));
      amounts.push_back(request->amount());
      auto tenant = context->client_metadata().find("x-tenant");
      if (tenant != context->client_metadata().end()) {
        tenant_seen = std::string(tenant->second.data(), tenant->second.size());
      }
    }
    if (!info.ok()) return ToGrpcStatus(info.status());
    if (request->want() == "failure" && info->op == "action") {
      return ToGrpcStatus(FailureError("no stock"));  // compensations always succeed
    }
    if (request->want() == "ongoing") return ToGrpcStatus(OngoingError("later"));
    if (request->want() == "error") return ToGrpcStatus(absl::InternalError("db down"));
    if (request->want() == "slow")
      std::this_thread::sleep_for(std::chrono::milliseconds(800));
    reply->set_note("done");
    return grpc::Status::OK;
  }

  absl::Mutex mu;
  std::vector<std::string> infos;
  std::vector<int64_t> amounts;
  std::string tenant_seen;
};

struct Server {
  Server() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
    REQUIRE(port > 0);
  }
  ~Server() { server->Shutdown(std::chrono::system_clock::now()); }
  std::string Url() const {
    return "127.0.0.1:" + std::to_string(port) + "/dtxtest.Busi/Act";
  }

  BusiService service;
  int port = 0;
  std::unique_ptr<grpc::Server> server;
};

std::string Payload(int64_t amount, const std::string& want = "") {
  dtxtest::BusiRequest r;
  r.set_amount(amount);
  r.set_want(want);
  return r.SerializeAsString();
}

absl::Status CallOnce(Transport& transport, const std::string& url, std::string payload,
                      absl::Duration timeout = absl::Seconds(3),
                      std::map<std::string, std::string> headers = {{"X-Tenant", "t7"}}) {
  BranchRequest r;
  r.url = url;
  r.gid = "g-1";
  r.trans_type = "saga";
  r.branch_id = "02";
  r.op = "action";
  r.payload = std::move(payload);
  r.headers = std::move(headers);
  r.timeout = timeout;
  return testing::CallAndWait(transport, r);
}

TEST_CASE("gRPC URLs split into target and method") {
  std::string target, method;
  REQUIRE(ParseGrpcUrl("localhost:5001/mall.Order/Create", &target, &method).ok());
  CHECK(target == "localhost:5001");
  CHECK(method == "/mall.Order/Create");
  for (const char* bad :
       {"", "localhost:5001", "/a/b", "host/Method", "host/svc/", "host//M"}) {
    INFO(bad);
    CHECK(absl::IsInvalidArgument(ParseGrpcUrl(bad, &target, &method)));
  }
}

TEST_CASE("a gRPC branch gets the payload bytes and the dtm metadata") {
  Server server;
  GrpcTransport transport;
  CHECK(CallOnce(transport, server.Url(), Payload(42)).ok());
  absl::MutexLock lock(&server.service.mu);
  CHECK(server.service.infos == std::vector<std::string>{"g-1/02/action"});
  CHECK(server.service.amounts == std::vector<int64_t>{42});
  CHECK(server.service.tenant_seen == "t7");  // branch_headers, lower-cased
}

TEST_CASE("gRPC answers map to the result vocabulary") {
  Server server;
  GrpcTransport transport;
  absl::Status failure = CallOnce(transport, server.Url(), Payload(1, "failure"));
  CHECK(IsFailure(failure));
  CHECK(failure.message() == "no stock");
  CHECK(IsOngoing(CallOnce(transport, server.Url(), Payload(1, "ongoing"))));
  CHECK(absl::IsInternal(CallOnce(transport, server.Url(), Payload(1, "error"))));
  CHECK(absl::IsDeadlineExceeded(
      CallOnce(transport, server.Url(), Payload(1, "slow"), absl::Milliseconds(100))));
  CHECK(absl::IsInvalidArgument(CallOnce(transport, "no-method", "")));
  // Garbage bytes as the request message: the server cannot parse them.
  CHECK(ResultOf(CallOnce(transport, server.Url(), "\xff\xff\xff garbage")) ==
        BranchResult::kError);
}

TEST_CASE("an unreachable gRPC branch is an error") {
  int port = 0;
  {
    Server gone;
    port = gone.port;
  }
  GrpcTransport transport;
  absl::Status s =
      CallOnce(transport, "127.0.0.1:" + std::to_string(port) + "/dtxtest.Busi/Act",
               Payload(1), absl::Milliseconds(500));
  CHECK(ResultOf(s) == BranchResult::kError);
}

TEST_CASE("a saga over gRPC rolls back on FAILURE") {
  Server server;
  GrpcTransport transport;
  testing::SagaFixture f(
      [&](CoordinatorOptions& o) { o.transports["grpc"] = &transport; });
  absl::Status s = Saga(f.coordinator.get(), "grpc-saga-1")
                       .Add(server.Url(), server.Url(), Payload(5))
                       .Add(server.Url(), server.Url(), Payload(6, "failure"))
                       .Protocol("grpc")
                       .WaitResult(true)
                       .Submit();
  CHECK(IsFailure(s));
  CHECK(f.State("grpc-saga-1").global.status == "failed");
  absl::MutexLock lock(&server.service.mu);
  CHECK(server.service.infos == std::vector<std::string>{"grpc-saga-1/01/action",
                                                         "grpc-saga-1/02/action",
                                                         "grpc-saga-1/02/compensate",
                                                         "grpc-saga-1/01/compensate"});
}

}  // namespace
}  // namespace dtx

namespace dtx {
namespace {

absl::Status CallWith(GrpcTransport& transport, const std::string& url,
                      std::map<std::string, std::string> headers) {
  return CallOnce(transport, url, Payload(1), absl::Seconds(3), std::move(headers));
}

TEST_CASE("metadata gRPC cannot send fails the call, never the process") {
  Server server;
  GrpcTransport transport;
  using namespace std::string_literals;
  // Each of these made gRPC abort the process when added to a call's context.
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"x-a", "caf\xc3\xa9"},
                                                        {"x-a", "a\0b"s},
                                                        {"x-a", "del\x7f"},
                                                        {"a b", "1"},
                                                        {"a/b", "1"},
                                                        {"", "1"},
                                                        {"grpc-timeout", "1S"},
                                                        {"dtm-gid", "other"},
                                                        {"content-type", "text/plain"}}) {
    INFO(key << " = " << value);
    CHECK(absl::IsInvalidArgument(transport.CheckBranch(server.Url(), {{key, value}})));
    CHECK(absl::IsInvalidArgument(CallWith(transport, server.Url(), {{key, value}})));
  }
  CHECK(transport.CheckBranch(server.Url(), {{"X-Tenant", "t 7"}, {"trace-bin", "\xff"}})
            .ok());
  CHECK(absl::IsInvalidArgument(transport.CheckBranch("127.0.0.1:1/a b/C", {})));
  CHECK(absl::IsInvalidArgument(transport.CheckBranch("h\xc3\xa9:1/a.B/C", {})));
  // gRPC would percent-decode these and call another host than the one checked.
  CHECK(absl::IsInvalidArgument(
      transport.CheckBranch("169.254.169.254%00.svc.local:80/a.B/C", {})));
  CHECK(absl::IsInvalidArgument(transport.CheckBranch("h%3A80:1/a.B/C", {})));
  CHECK(absl::IsInvalidArgument(transport.CheckBranch("h!x:1/a.B/C", {})));
  CHECK(CallWith(transport, server.Url(), {{"X-Tenant", "t8"}}).ok());
  absl::MutexLock lock(&server.service.mu);
  CHECK(server.service.infos.size() == 1);  // only the valid call reached the server
}

TEST_CASE("channels past max_channels are closed, least recently used first") {
  Server server;
  GrpcTransportOptions options;
  options.max_channels = 2;
  GrpcTransport transport(options);
  const std::string port = std::to_string(server.port);
  const std::string method = "/dtxtest.Busi/Act";
  for (const std::string& target : std::vector<std::string>{
           "127.0.0.1:" + port, "localhost:" + port, "ipv4:127.0.0.1:" + port,
           "dns:///127.0.0.1:" + port, "dns:///localhost:" + port, "127.0.0.1:" + port}) {
    INFO(target);
    CHECK(CallWith(transport, target + method, {}).ok());
    CHECK(transport.Channels() <= 2);
  }
  CHECK(transport.Channels() == 2);
  absl::MutexLock lock(&server.service.mu);
  CHECK(server.service.infos.size() == 6);
}

TEST_CASE("with an allow-list, only its host:port targets are called") {
  Server server;
  GrpcTransportOptions options;
  options.allow = AllowList::Parse({"127.0.0.1:" + std::to_string(server.port)}).value();
  GrpcTransport transport(options);
  CHECK(CallWith(transport, server.Url(), {}).ok());
  const std::string port = std::to_string(server.port);
  for (const std::string& url : std::vector<std::string>{
           "localhost:" + port + "/dtxtest.Busi/Act", "127.0.0.1:1/dtxtest.Busi/Act",
           "dns:///127.0.0.1:" + port + "/dtxtest.Busi/Act",
           "169.254.169.254:80/dtxtest.Busi/Act"}) {
    INFO(url);
    absl::Status s = CallWith(transport, url, {});
    CHECK(absl::IsInvalidArgument(s));
    CHECK(absl::StrContains(s.message(), "allow-list"));
  }
}

}  // namespace
}  // namespace dtx
