#include "dtx/transaction.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "dtx/saga.h"

namespace dtx {
namespace {

TEST_CASE("a saga serialises to DTM's submit JSON and back") {
  Saga saga(nullptr, "gid-1");
  saga.Add("http://a/out", "http://a/outc", R"({"amount":30})")
      .Add("http://b/in", "http://b/inc", R"({"amount":30})")
      .EnableConcurrent()
      .AddBranchOrder(1, {0})
      .WaitResult(true)
      .TimeoutToFail(absl::Seconds(60))
      .RequestTimeout(absl::Milliseconds(1500))
      .RetryInterval(absl::Seconds(15))
      .RetryLimit(4)
      .BranchHeader("x-trace", "t1");
  absl::StatusOr<std::string> json = TransGlobalToJson(saga.Build());
  REQUIRE(json.ok());
  nlohmann::json doc = nlohmann::json::parse(*json);
  CHECK(doc["gid"] == "gid-1");
  CHECK(doc["trans_type"] == "saga");
  CHECK(doc["steps"][0]["action"] == "http://a/out");
  CHECK(doc["steps"][1]["compensate"] == "http://b/inc");
  CHECK(doc["payloads"][1] == R"({"amount":30})");
  CHECK(doc["wait_result"] == true);
  CHECK(doc["timeout_to_fail"] == 60);  // whole seconds as integers, as DTM parses them
  CHECK(doc["retry_interval"] == 15);
  CHECK(doc["request_timeout"] == 1.5);
  CHECK(doc["retry_limit"] == 4);
  CHECK(doc["branch_headers"]["x-trace"] == "t1");
  nlohmann::json custom = nlohmann::json::parse(doc["custom_data"].get<std::string>());
  CHECK(custom["concurrent"] == true);
  CHECK(custom["orders"]["1"] == nlohmann::json::array({0}));

  absl::StatusOr<TransGlobal> back = SagaFromJson(*json);
  REQUIRE(back.ok());
  CHECK(back->gid == "gid-1");
  CHECK(back->steps.size() == 2);
  CHECK(back->steps[0].compensate == "http://a/outc");
  CHECK(back->payloads == saga.Build().payloads);
  CHECK(back->options.request_timeout == absl::Milliseconds(1500));
  CHECK(back->options.timeout_to_fail == absl::Seconds(60));
  CHECK(back->options.retry_limit == 4);
  CHECK(back->options.branch_headers.at("x-trace") == "t1");
  absl::StatusOr<SagaOrders> orders = ParseSagaOrders(back->custom_data, 2);
  REQUIRE(orders.ok());
  CHECK(orders->concurrent);
  CHECK(orders->orders.at(1) == std::vector<int>{0});
}

TEST_CASE("DTM's own JSON is accepted, unknown fields ignored") {
  absl::StatusOr<TransGlobal> g = TransGlobalFromJson(R"({
    "gid":"Ys9fJ4zX","trans_type":"saga","steps":[{"action":"http://x/a","compensate":"http://x/c"}],
    "payloads":["{}"],"custom_data":"","wait_result":false,"passthrough_headers":null,
    "concurrent":false,"something_new":{"a":1}})");
  REQUIRE(g.ok());
  CHECK(g->protocol == "http");
  CHECK(g->steps[0].action == "http://x/a");
}

TEST_CASE("malformed transaction JSON gets a clear error") {
  auto error = [](const std::string& json) {
    absl::StatusOr<TransGlobal> g = TransGlobalFromJson(json);
    REQUIRE(absl::IsInvalidArgument(g.status()));
    return std::string(g.status().message());
  };
  CHECK(absl::StrContains(error("{not json"), "malformed JSON at byte"));
  CHECK(error("[1,2]") == "expected a JSON object");
  CHECK(error(R"({"trans_type":"saga"})") == "missing gid");
  CHECK(absl::StrContains(error(R"({"gid":"a b","trans_type":"saga"})"), "invalid gid"));
  CHECK(error(R"({"gid":7})") == "'gid' must be a string");
  CHECK(error(R"({"gid":"g","trans_type":"2pc"})") == "unknown trans_type '2pc'");
  CHECK(error(R"({"gid":"g","trans_type":"saga","steps":{}})") ==
        "'steps' must be an array");
  CHECK(error(R"({"gid":"g","trans_type":"saga","steps":[{"action":1}]})") ==
        "step 'action' must be a URL string");
  CHECK(error(R"({"gid":"g","steps":[{}],"payloads":["a","b"]})") ==
        "got 2 payloads for 1 steps");
  CHECK(error(R"({"gid":"g","retry_interval":"10"})") ==
        "'retry_interval' must be a non-negative number of seconds");
  CHECK(error(R"({"gid":"g","timeout_to_fail":-1})") ==
        "'timeout_to_fail' must be a non-negative number of seconds");
  CHECK(error(R"({"gid":"g","retry_limit":1.5})") ==
        "'retry_limit' must be a non-negative integer");
  CHECK(error(R"({"gid":"g","wait_result":"yes"})") == "'wait_result' must be a boolean");
  CHECK(error(R"({"gid":"g","branch_headers":{"a":1}})") ==
        "'branch_headers' values must be strings");
  CHECK(
      error(
          R"({"gid":"g","steps":[{},{}],"custom_data":"{\"orders\":{\"0\":[1],\"1\":[0]}}"})") ==
      "custom_data.orders has a cycle");
  CHECK(error(R"({"gid":"g","steps":[{}],"custom_data":"{\"orders\":{\"5\":[0]}}"})") ==
        "custom_data.orders names step '5' of 1");
  CHECK(absl::StartsWith(error(R"({"gid":"g","custom_data":"nope"})"),
                         "custom_data: malformed JSON at byte"));
  CHECK(error(R"({"gid":"g","custom_data":"[1]"})") == "custom_data is not a JSON object");
}

TEST_CASE("binary payloads cannot travel as JSON text") {
  Saga saga(nullptr, "bin-1");
  saga.Add("http://a", "", std::string("\xff\xfe\x00", 3));
  CHECK(absl::IsInvalidArgument(TransGlobalToJson(saga.Build()).status()));
}

TEST_CASE("a sequential saga's predecessors are the previous step") {
  auto preds = Predecessors(SagaOrders{}, 3);
  CHECK(preds[0].empty());
  CHECK(preds[1] == std::vector<int>{0});
  CHECK(preds[2] == std::vector<int>{1});
}

TEST_CASE("query results have DTM's shape") {
  TransGlobal g;
  g.id = 3;
  g.gid = "q-1";
  g.status = "succeed";
  g.create_time = absl::FromUnixMillis(1700000000123);
  TransBranch b;
  b.gid = "q-1";
  b.branch_id = "01";
  b.op = "action";
  b.status = "succeed";
  b.bin_data = "hi";
  nlohmann::json doc = nlohmann::json::parse(QueryResultToJson(g, {b}));
  CHECK(doc["transaction"]["gid"] == "q-1");
  CHECK(doc["transaction"]["status"] == "succeed");
  CHECK(doc["transaction"]["create_time"] == "2023-11-14T22:13:20.123+00:00");
  CHECK(doc["branches"][0]["bin_data"] == "aGk=");
  CHECK(doc["branches"][0]["op"] == "action");
}

}  // namespace
}  // namespace dtx
