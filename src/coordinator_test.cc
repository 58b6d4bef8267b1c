// Saga semantics of the embedded coordinator (PROTOCOL.md, "Saga semantics"), on a
// real SQLite file, with in-process branches and a manual clock.
#include "dtx/coordinator.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "dtx/local_transport.h"
#include "dtx/result.h"
#include "saga_fixture.h"

namespace dtx {
namespace {

using testing::SagaFixture;
using Calls = std::vector<std::string>;

// Each step's two rows as "op:status", in stored order.
std::vector<std::string> Rows(const TransactionState& state) {
  std::vector<std::string> rows;
  for (const TransBranch& b : state.branches) {
    rows.push_back(b.branch_id + ":" + b.op + ":" + b.status);
  }
  return rows;
}

TEST_CASE("a saga whose actions succeed ends succeed") {
  SagaFixture f;
  f.Branch("a1");
  f.Branch("a2");
  f.Branch("c1");
  f.Branch("c2");
  absl::Status s = f.NewSaga("ok-1")
                       .Add(f.Url("a1"), f.Url("c1"), R"({"n":1})")
                       .Add(f.Url("a2"), f.Url("c2"), R"({"n":2})")
                       .WaitResult(true)
                       .Submit();
  REQUIRE(s.ok());
  CHECK(f.Calls() == Calls{"a1", "a2"});
  TransactionState state = f.State("ok-1");
  CHECK(state.global.status == "succeed");
  CHECK(state.global.finish_time == f.clock.Now());
  CHECK(Rows(state) ==
        std::vector<std::string>{"01:compensate:prepared", "01:action:succeed",
                                 "02:compensate:prepared", "02:action:succeed"});
  CHECK(state.branches[1].bin_data == R"({"n":1})");
  CHECK(state.branches[0].url == f.Url("c1"));
}

TEST_CASE("the payload, ids and headers reach the branch") {
  SagaFixture f;
  BranchRequest seen;
  f.Branch("a1", [&](int, const BranchRequest& r) {
    seen = r;
    return absl::OkStatus();
  });
  REQUIRE(f.NewSaga("hdr-1")
              .Add(f.Url("a1"), "", "payload-1")
              .BranchHeader("authorization", "Bearer x")
              .RequestTimeout(absl::Seconds(7))
              .WaitResult(true)
              .Submit()
              .ok());
  CHECK(seen.gid == "hdr-1");
  CHECK(seen.trans_type == "saga");
  CHECK(seen.branch_id == "01");
  CHECK(seen.op == "action");
  CHECK(seen.payload == "payload-1");
  CHECK(seen.headers.at("authorization") == "Bearer x");
  CHECK(seen.timeout == absl::Seconds(7));
}

TEST_CASE("an action FAILURE at step 2 compensates steps 2 and 1 in reverse") {
  SagaFixture f;
  f.Branch("a1");
  f.Branch("a2", FailureError("insufficient stock"));
  f.Branch("a3");
  f.Branch("c1");
  f.Branch("c2");
  f.Branch("c3");
  absl::Status s = f.NewSaga("fail-2")
                       .Add(f.Url("a1"), f.Url("c1"), "")
                       .Add(f.Url("a2"), f.Url("c2"), "")
                       .Add(f.Url("a3"), f.Url("c3"), "")
                       .WaitResult(true)
                       .Submit();
  REQUIRE(IsFailure(s));
  CHECK(absl::StrContains(s.message(), "insufficient stock"));
  CHECK(f.Calls() == Calls{"a1", "a2", "c2", "c1"});
  TransactionState state = f.State("fail-2");
  CHECK(state.global.status == "failed");
  CHECK(absl::StrContains(state.global.rollback_reason, f.Url("a2")));
  CHECK(absl::StrContains(state.global.rollback_reason, "insufficient stock"));
  CHECK(state.global.rollback_time == f.clock.Now());
  CHECK(Rows(state) ==
        std::vector<std::string>{"01:compensate:succeed", "01:action:succeed",
                                 "02:compensate:succeed", "02:action:failed",
                                 "03:compensate:prepared", "03:action:prepared"});
}

TEST_CASE("ONGOING is asked again after retry_interval, then succeeds") {
  SagaFixture f;
  f.Branch("a1", [](int call, const BranchRequest&) {
    return call < 3 ? OngoingError("not yet") : absl::OkStatus();
  });
  absl::Status s = f.NewSaga("ongoing-1")
                       .Add(f.Url("a1"), "", "")
                       .RetryInterval(absl::Seconds(5))
                       .WaitResult(true)
                       .Submit();
  CHECK(IsOngoing(s));
  CHECK(f.State("ongoing-1").global.status == "submitted");
  for (int pass = 2; pass <= 3; ++pass) {
    CHECK(f.UntilNextCron("ongoing-1") == absl::Seconds(5));  // the same interval
    CHECK(f.AdvanceAndRun(absl::Seconds(4)) == 0);            // not due yet
    CHECK(f.AdvanceAndRun(absl::Seconds(1)) == 1);
  }
  CHECK(f.CallCount("a1") == 3);
  TransactionState state = f.State("ongoing-1");
  CHECK(state.global.status == "succeed");
  CHECK(state.global.retry_count == 2);
}

TEST_CASE("errors back off exponentially up to the cap, then succeed") {
  SagaFixture f([](CoordinatorOptions& o) { o.max_backoff = absl::Seconds(8); });
  f.Branch("a1", [](int call, const BranchRequest&) {
    return call <= 5 ? absl::UnavailableError("connection refused") : absl::OkStatus();
  });
  f.Branch("a2");
  CHECK(IsOngoing(f.NewSaga("backoff-1")
                      .Add(f.Url("a1"), "", "")
                      .Add(f.Url("a2"), "", "")
                      .WaitResult(true)
                      .Submit()));
  std::vector<absl::Duration> schedule;
  schedule.push_back(f.UntilNextCron("backoff-1"));
  for (int i = 0; i < 5; ++i) {
    f.AdvanceAndRun(schedule.back());
    schedule.push_back(f.UntilNextCron("backoff-1"));
  }
  CHECK(schedule[0] == absl::Seconds(1));
  CHECK(schedule[1] == absl::Seconds(2));
  CHECK(schedule[2] == absl::Seconds(4));
  CHECK(schedule[3] == absl::Seconds(8));
  CHECK(schedule[4] == absl::Seconds(8));  // capped
  TransactionState state = f.State("backoff-1");
  CHECK(state.global.status == "succeed");
  CHECK(f.Calls() == Calls{"a1", "a1", "a1", "a1", "a1", "a1", "a2"});
}

TEST_CASE("jitter stretches each delay by less than the jitter fraction") {
  SagaFixture f([](CoordinatorOptions& o) { o.backoff_jitter = 0.5; });
  f.Branch("a1", absl::UnavailableError("down"));
  std::vector<absl::Duration> delays;
  for (int i = 0; i < 8; ++i) {
    const std::string gid = "jitter-" + std::to_string(i);
    REQUIRE(!f.NewSaga(gid)
                 .Add(f.Url("a1"), "", "")
                 .RetryInterval(absl::Seconds(10))
                 .WaitResult(true)
                 .Submit()
                 .ok());
    delays.push_back(f.UntilNextCron(gid));
  }
  bool differ = false;
  for (absl::Duration d : delays) {
    CHECK(d >= absl::Seconds(10));
    CHECK(d < absl::Seconds(15));
    differ = differ || d != delays[0];
  }
  CHECK(differ);
}

TEST_CASE("timeout_to_fail rolls back an unfinished saga and compensates that step") {
  SagaFixture f;
  f.Branch("a1");
  f.Branch("a2", OngoingError("waiting for the bank"));
  f.Branch("c1");
  f.Branch("c2");
  absl::Status s = f.NewSaga("ttf-1")
                       .Add(f.Url("a1"), f.Url("c1"), "")
                       .Add(f.Url("a2"), f.Url("c2"), "")
                       .TimeoutToFail(absl::Seconds(3))
                       .WaitResult(true)
                       .Submit();
  CHECK(IsOngoing(s));
  f.AdvanceAndRun(absl::Seconds(1));
  f.AdvanceAndRun(absl::Seconds(1));
  CHECK(f.State("ttf-1").global.status == "submitted");
  CHECK(f.UntilNextCron("ttf-1") == absl::Seconds(1));
  f.AdvanceAndRun(absl::Seconds(1));
  TransactionState state = f.State("ttf-1");
  CHECK(state.global.status == "failed");
  CHECK(state.global.rollback_reason == "Timeout after 3 seconds");
  CHECK(f.Calls() == Calls{"a1", "a2", "a2", "a2", "c2", "c1"});
}

TEST_CASE("retry_limit retries within the first pass, then rolls back") {
  // As DTM: the retries run at once, so a wait_result submit answers the outcome.
  SagaFixture f;
  f.Branch("a1", absl::InternalError("boom"));
  f.Branch("c1");
  absl::Status outcome = f.NewSaga("limit-1")
                             .Add(f.Url("a1"), f.Url("c1"), "")
                             .RetryLimit(2)
                             .WaitResult(true)
                             .Submit();
  CHECK(IsFailure(outcome));
  CHECK(outcome.message() == "RetryCount is greater than RetryLimit, RetryLimit: 2");
  TransactionState state = f.State("limit-1");
  CHECK(state.global.status == "failed");
  CHECK(state.global.rollback_reason ==
        "RetryCount is greater than RetryLimit, RetryLimit: 2");
  CHECK(f.Calls() == Calls{"a1", "a1", "a1", "c1"});
}

TEST_CASE("an empty URL is a step that always succeeds") {
  SagaFixture f;
  f.Branch("a2", FailureError("no"));
  f.Branch("c2");
  absl::Status s = f.NewSaga("empty-1")
                       .Add("", "", "")
                       .Add(f.Url("a2"), f.Url("c2"), "")
                       .WaitResult(true)
                       .Submit();
  CHECK(IsFailure(s));
  CHECK(f.Calls() == Calls{"a2", "c2"});
  CHECK(Rows(f.State("empty-1")) ==
        std::vector<std::string>{"01:compensate:succeed", "01:action:succeed",
                                 "02:compensate:succeed", "02:action:failed"});
  SagaFixture g;
  REQUIRE(g.NewSaga("empty-2").Add("", "", "").WaitResult(true).Submit().ok());
  REQUIRE(g.NewSaga("empty-3").WaitResult(true).Submit().ok());  // no steps at all
  CHECK(g.State("empty-3").global.status == "succeed");
}

TEST_CASE("a concurrent saga runs an action after all its predecessors") {
  SagaFixture f;
  for (const char* name : {"a0", "a1", "a2", "a3", "c0", "c1", "c2", "c3"})
    f.Branch(name);
  REQUIRE(f.NewSaga("conc-1")
              .Add(f.Url("a0"), f.Url("c0"), "")
              .Add(f.Url("a1"), f.Url("c1"), "")
              .Add(f.Url("a2"), f.Url("c2"), "")
              .Add(f.Url("a3"), f.Url("c3"), "")
              .EnableConcurrent()
              .AddBranchOrder(2, {0, 1})
              .AddBranchOrder(3, {2})
              .WaitResult(true)
              .Submit()
              .ok());
  Calls calls = f.Calls();
  REQUIRE(calls.size() == 4);
  auto at = [&](const std::string& name) {
    return std::find(calls.begin(), calls.end(), name) - calls.begin();
  };
  CHECK(at("a2") > at("a0"));
  CHECK(at("a2") > at("a1"));
  CHECK(at("a3") > at("a2"));
}

TEST_CASE("a concurrent saga rolls back in reverse order") {
  SagaFixture f;
  for (const char* name : {"a0", "a1", "c0", "c1", "c2", "c3"}) f.Branch(name);
  f.Branch("a2", FailureError("refused"));
  f.Branch("a3");
  absl::Status s = f.NewSaga("conc-2")
                       .Add(f.Url("a0"), f.Url("c0"), "")
                       .Add(f.Url("a1"), f.Url("c1"), "")
                       .Add(f.Url("a2"), f.Url("c2"), "")
                       .Add(f.Url("a3"), f.Url("c3"), "")
                       .EnableConcurrent()
                       .AddBranchOrder(2, {0, 1})
                       .AddBranchOrder(3, {2})
                       .WaitResult(true)
                       .Submit();
  REQUIRE(IsFailure(s));
  Calls calls = f.Calls();
  auto at = [&](const std::string& name) {
    return std::find(calls.begin(), calls.end(), name) - calls.begin();
  };
  CHECK(f.CallCount("a3") == 0);  // its predecessor failed
  CHECK(f.CallCount("c3") == 0);  // its action was never called
  CHECK(f.CallCount("c0") == 1);
  CHECK(f.CallCount("c1") == 1);
  CHECK(at("c0") > at("c2"));  // reverse of the orders
  CHECK(at("c1") > at("c2"));
  CHECK(f.State("conc-2").global.status == "failed");
}

TEST_CASE("a compensation that fails is retried with backoff and counted") {
  SagaFixture f;
  f.Branch("a1");
  f.Branch("a2", FailureError("no"));
  f.Branch("c2");
  f.Branch("c1", [](int call, const BranchRequest&) {
    return call < 3 ? FailureError("cannot undo yet") : absl::OkStatus();
  });
  // Rolling back, not rolled back: ONGOING until the compensations have all run.
  absl::Status waited = f.NewSaga("comp-1")
                            .Add(f.Url("a1"), f.Url("c1"), "")
                            .Add(f.Url("a2"), f.Url("c2"), "")
                            .WaitResult(true)
                            .Submit();
  CHECK(IsOngoing(waited));
  CHECK(absl::StrContains(waited.message(), "rolling back: action 02"));
  TransactionState state = f.State("comp-1");
  CHECK(state.global.status == "aborting");
  CHECK(absl::StrContains(state.global.result, "cannot undo yet"));
  CHECK(f.UntilNextCron("comp-1") == absl::Seconds(1));
  f.AdvanceAndRun(absl::Seconds(1));
  CHECK(f.UntilNextCron("comp-1") == absl::Seconds(2));
  f.AdvanceAndRun(absl::Seconds(2));
  state = f.State("comp-1");
  CHECK(state.global.status == "failed");
  CHECK(state.global.retry_count == 2);
  CHECK(f.Calls() == Calls{"a1", "a2", "c2", "c1", "c1", "c1"});
}

TEST_CASE("submit without wait_result returns at once and the saga finishes") {
  SagaFixture f;
  f.Branch("a1");
  REQUIRE(f.NewSaga("nowait-1").Add(f.Url("a1"), "", "").Submit().ok());
  f.coordinator->Shutdown();  // waits for the pass
  CHECK(f.State("nowait-1").global.status == "succeed");
  CHECK(IsOngoing(absl::OkStatus()) == false);
}

TEST_CASE("Submit with a callback answers once, as the waiting Submit would") {
  // LocalTransport runs a branch inside Call, so here the pass ends before Submit
  // returns; over a transport of sockets it ends later, on the transport's thread
  // (dtxd_test: "wait_result submits past --sync-waits hold no thread...").
  SagaFixture f;
  f.Branch("slow");
  f.Branch("no", FailureError("refused"));
  absl::Notification answered;
  absl::Status outcome = absl::UnknownError("no answer");
  f.coordinator->Submit(
      f.NewSaga("async-1").Add(f.Url("slow"), "", "").WaitResult(true).Build(),
      [&](absl::Status s) {
        outcome = s;
        answered.Notify();
      });
  REQUIRE(answered.WaitForNotificationWithTimeout(absl::Seconds(5)));
  CHECK(outcome.ok());
  CHECK(f.State("async-1").global.status == "succeed");

  // A rollback answers FAILURE with its reason, as the waiting Submit does.
  absl::Notification rolled_back;
  f.coordinator->Submit(
      f.NewSaga("async-2").Add(f.Url("no"), "", "").WaitResult(true).Build(),
      [&](absl::Status s) {
        outcome = s;
        rolled_back.Notify();
      });
  REQUIRE(rolled_back.WaitForNotificationWithTimeout(absl::Seconds(5)));
  CHECK(IsFailure(outcome));
  CHECK(absl::StrContains(outcome.message(), "refused"));

  // What is known before a pass starts is answered at once, on this thread, once.
  int answers = 0;
  TransGlobal bad = f.NewSaga("async-3").Add(f.Url("slow"), "", "").WaitResult(true).Build();
  bad.steps.clear();
  bad.payloads = {"x"};
  f.coordinator->Submit(bad, [&](absl::Status s) {
    ++answers;
    outcome = s;
  });
  CHECK(answers == 1);
  CHECK(absl::IsInvalidArgument(outcome));
  f.coordinator->Submit(
      f.NewSaga("async-1").Add(f.Url("slow"), "", "").WaitResult(true).Build(),
      [&](absl::Status s) {
        ++answers;
        outcome = s;
      });
  CHECK(answers == 2);
  CHECK(absl::IsAlreadyExists(outcome));  // already succeeded
  // Without wait_result: answered at once, the saga runs on.
  f.coordinator->Submit(f.NewSaga("async-4").Add(f.Url("slow"), "", "").Build(),
                        [&](absl::Status s) {
                          ++answers;
                          outcome = s;
                        });
  CHECK(answers == 3);
  CHECK(outcome.ok());
  f.coordinator->Shutdown();
  CHECK(f.State("async-4").global.status == "succeed");
}

TEST_CASE("answer_before_final_write on SQLite: sagas answered early end as answered") {
  SagaFixture f([](CoordinatorOptions& o) { o.answer_before_final_write = true; });
  f.Branch("a1");
  f.Branch("a2");
  f.Branch("c1");
  f.Branch("no", FailureError("refused"));
  constexpr int kThreads = 4, kEach = 10;
  std::vector<std::thread> clients;
  std::atomic<int> succeeded{0}, failed{0};
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      for (int k = 0; k < kEach; ++k) {
        const std::string gid = absl::StrFormat("early-%d-%d", t, k);
        // Every third one rolls back at step 2.
        absl::Status s = f.NewSaga(gid)
                             .Add(f.Url("a1"), f.Url("c1"), "")
                             .Add(f.Url(k % 3 == 0 ? "no" : "a2"), "", "")
                             .WaitResult(true)
                             .Submit();
        if (s.ok()) ++succeeded;
        if (IsFailure(s)) ++failed;
      }
    });
  }
  for (std::thread& c : clients) c.join();
  CHECK(succeeded == kThreads * 6);
  CHECK(failed == kThreads * 4);
  // Shutdown waits for the passes, so for their final writes (committed with later
  // writes, or alone after lazy_write_wait, on the store's threads).
  f.coordinator->Shutdown();
  for (int t = 0; t < kThreads; ++t) {
    for (int k = 0; k < kEach; ++k) {
      TransactionState state = f.State(absl::StrFormat("early-%d-%d", t, k));
      CHECK(state.global.status == (k % 3 == 0 ? "failed" : "succeed"));
      const bool rolled_back = k % 3 == 0;
      CHECK(state.branches[0].status == (rolled_back ? "succeed" : "prepared"));  // c1
      CHECK(state.branches[1].status == "succeed");                               // a1
      CHECK(state.branches[3].status == (rolled_back ? "failed" : "succeed"));
    }
  }
}

TEST_CASE("submitting an existing gid") {
  SagaFixture f;
  f.Branch("a1", [](int call, const BranchRequest&) {
    return call == 1 ? absl::UnavailableError("down") : absl::OkStatus();
  });
  CHECK(
      IsOngoing(f.NewSaga("again-1").Add(f.Url("a1"), "", "").WaitResult(true).Submit()));
  CHECK(f.UntilNextCron("again-1") == absl::Seconds(1));
  // Submitted again before it is due: the next pass runs at once.
  CHECK(f.NewSaga("again-1").Add(f.Url("a1"), "", "").WaitResult(true).Submit().ok());
  CHECK(f.CallCount("a1") == 2);
  // Succeeded: told apart from a rollback, and nothing runs.
  absl::Status ended = f.NewSaga("again-1").Add(f.Url("a1"), "", "").Submit();
  CHECK(absl::IsAlreadyExists(ended));
  CHECK(absl::StrContains(ended.message(), "already succeeded"));
  CHECK(f.CallCount("a1") == 2);
  // Rolling back (its compensation keeps failing): FAILURE, nothing runs again here.
  f.Branch("stuck-undo", absl::UnavailableError("down"));
  f.Branch("no-2", FailureError("refused"));
  CHECK(IsOngoing(f.NewSaga("again-3")
                      .Add(f.Url("no-2"), f.Url("stuck-undo"), "")
                      .WaitResult(true)
                      .Submit()));
  REQUIRE(f.State("again-3").global.status == "aborting");
  absl::Status rolling = f.NewSaga("again-3").Add(f.Url("no-2"), "", "").Submit();
  CHECK(IsFailure(rolling));
  CHECK(absl::StrContains(rolling.message(), "is rolling back: action 01"));
  // Rolled back: FAILURE with the reason.
  f.Branch("no", FailureError("refused"));
  CHECK(IsFailure(f.NewSaga("again-2").Add(f.Url("no"), "", "").WaitResult(true).Submit()));
  ended = f.NewSaga("again-2").Add(f.Url("no"), "", "").Submit();
  CHECK(IsFailure(ended));
  CHECK(absl::StrContains(ended.message(), "already ended: failed: action 01"));
}

TEST_CASE("bad transactions are refused and nothing is stored") {
  SagaFixture f;
  f.Branch("a1");
  Saga no_gid = f.NewSaga("");
  CHECK(absl::IsInvalidArgument(no_gid.Add(f.Url("a1"), "", "").Submit()));
  CHECK(absl::IsInvalidArgument(f.NewSaga("bad gid;").Add(f.Url("a1"), "", "").Submit()));
  CHECK(absl::IsInvalidArgument(f.NewSaga(std::string(129, 'g')).Submit()));
  CHECK(absl::IsInvalidArgument(f.NewSaga("cycle-1")
                                    .Add(f.Url("a1"), "", "")
                                    .Add(f.Url("a1"), "", "")
                                    .EnableConcurrent()
                                    .AddBranchOrder(0, {1})
                                    .AddBranchOrder(1, {0})
                                    .Submit()));
  CHECK(absl::IsInvalidArgument(
      f.NewSaga("order-1").Add(f.Url("a1"), "", "").AddBranchOrder(3, {0}).Submit()));
  CHECK(absl::IsInvalidArgument(
      f.NewSaga("proto-1").Add(f.Url("a1"), "", "").Protocol("carrier-pigeon").Submit()));
  TransGlobal payloads = f.NewSaga("payloads-1").Add(f.Url("a1"), "", "").Build();
  payloads.payloads.push_back("extra");
  CHECK(absl::IsInvalidArgument(f.coordinator->Submit(payloads)));
  CHECK(absl::IsInvalidArgument(f.NewSaga("header-1")
                                    .Add(f.Url("a1"), "", "")
                                    .BranchHeader("x-a", "1\r\nX-Evil: 1")
                                    .Submit()));
  TransGlobal xa = f.NewSaga("xa-1").Build();
  xa.trans_type = "xa";
  CHECK(absl::IsUnimplemented(f.coordinator->Submit(xa)));
  for (const char* gid :
       {"cycle-1", "order-1", "proto-1", "payloads-1", "header-1", "xa-1"}) {
    CHECK(absl::IsNotFound(f.coordinator->Query(gid).status()));
  }
  CHECK(f.CallCount("a1") == 0);
  CHECK(absl::IsInvalidArgument(f.coordinator->Query("no such gid!").status()));
  CHECK(absl::IsNotFound(f.coordinator->Query("unknown-gid").status()));
}

// Refuses every URL holding "forbidden": shows that the coordinator asks the
// transport of the saga's protocol about each URL before storing anything.
class PickyTransport : public TransportWrapper {
 public:
  using TransportWrapper::TransportWrapper;
  absl::Status CheckBranch(
      std::string_view url,
      const std::map<std::string, std::string>& headers) const override {
    if (url.find("forbidden") != std::string_view::npos) {
      return absl::InvalidArgumentError("forbidden URL");
    }
    return TransportWrapper::CheckBranch(url, headers);
  }
};

TEST_CASE("submits over the coordinator's limits are refused and nothing is stored") {
  SagaFixture f([&](CoordinatorOptions& o) {
    o.max_steps = 5;
    o.max_request_timeout = absl::Minutes(10);
    o.max_timeout_to_fail = absl::Hours(1);
  });
  f.Branch("a1");
  auto steps = [&](const std::string& gid, int n) {
    Saga saga = f.NewSaga(gid);
    for (int i = 0; i < n; ++i) saga.Add(f.Url("a1"), "", "");
    return saga;
  };
  absl::Status too_many = steps("steps-6", 6).Submit();
  CHECK(absl::IsInvalidArgument(too_many));
  CHECK(absl::StrContains(too_many.message(), "limit of 5"));
  CHECK(steps("steps-5", 5).WaitResult(true).Submit().ok());
  CHECK(absl::IsInvalidArgument(
      steps("rt-1", 1).RequestTimeout(absl::Minutes(11)).Submit()));
  CHECK(absl::IsInvalidArgument(
      steps("rt-2", 1).RequestTimeout(absl::InfiniteDuration()).Submit()));
  CHECK(absl::IsInvalidArgument(
      steps("rt-3", 1).RequestTimeout(absl::Seconds(-1)).Submit()));
  CHECK(
      absl::IsInvalidArgument(steps("ttf-1", 1).TimeoutToFail(absl::Hours(2)).Submit()));
  CHECK(absl::IsInvalidArgument(
      steps("ri-1", 1).RetryInterval(absl::Seconds(-5)).Submit()));
  CHECK(absl::IsInvalidArgument(steps("rl-1", 1).RetryLimit(101).Submit()));
  // A TCC's branches count as steps.
  TransGlobal tcc;
  tcc.gid = "tcc-branches";
  tcc.trans_type = "tcc";
  tcc.protocol = "local";
  REQUIRE(f.coordinator->Prepare(tcc).ok());
  for (int i = 1; i <= 6; ++i) {
    const TccBranch b{"tcc-branches", absl::StrFormat("%02d", i), "", f.Url("a1"),
                      f.Url("a1")};
    absl::Status registered = f.coordinator->RegisterBranch(b);
    INFO(i << ": " << registered);
    CHECK((i <= 5 ? registered.ok() : absl::IsInvalidArgument(registered)));
  }
  CHECK(f.State("tcc-branches").branches.size() == 10);
  for (const char* gid : {"steps-6", "rt-1", "rt-2", "rt-3", "ttf-1", "ri-1", "rl-1"}) {
    CHECK(absl::IsNotFound(f.coordinator->Query(gid).status()));
  }
  CHECK(f.CallCount("a1") == 5);
}

TEST_CASE("the coordinator asks the transport about every URL at submit") {
  std::unique_ptr<PickyTransport> picky;
  LocalTransport local;
  local.Handle("local://ok", [](const BranchRequest&) { return absl::OkStatus(); });
  picky = std::make_unique<PickyTransport>(&local);
  SagaFixture f([&](CoordinatorOptions& o) { o.transports["picky"] = picky.get(); });
  absl::Status refused = f.NewSaga("picky-1")
                             .Protocol("picky")
                             .Add("local://ok", "", "")
                             .Add("local://ok", "local://forbidden", "")
                             .Submit();
  CHECK(absl::IsInvalidArgument(refused));
  CHECK(refused.message() == "forbidden URL");
  CHECK(absl::IsNotFound(f.coordinator->Query("picky-1").status()));
  CHECK(f.NewSaga("picky-2")
            .Protocol("picky")
            .Add("local://ok", "local://ok", "")
            .WaitResult(true)
            .Submit()
            .ok());
}

TEST_CASE("a call that waits for a slot past its lease is not made under it") {
  // One call in flight at a time. Step 1's branch takes longer than the lease (the
  // clock moves on inside it); step 2's call, queued behind it, would start after
  // another coordinator could have taken the transaction: it is not made in this pass.
  SagaFixture f([](CoordinatorOptions& o) {
    o.max_calls_in_flight = 1;
    o.lease = absl::Seconds(10);
  });
  f.Branch("slow", [&](int, const BranchRequest&) {
    f.clock.Advance(absl::Seconds(20));
    return absl::OkStatus();
  });
  f.Branch("quick");
  absl::Status first = f.NewSaga("late-1")
                           .Add(f.Url("slow"), "", "")
                           .Add(f.Url("quick"), "", "")
                           .EnableConcurrent()
                           .RequestTimeout(absl::Seconds(3))
                           .WaitResult(true)
                           .Submit();
  CHECK(IsOngoing(first));
  CHECK(f.CallCount("slow") == 1);
  CHECK(f.CallCount("quick") == 0);
  CHECK(absl::StrContains(f.State("late-1").global.result, "lease ran out"));
  // The next pass, under a lease of its own, makes it.
  f.AdvanceAndRun(absl::Seconds(60));
  CHECK(f.CallCount("quick") == 1);
  CHECK(f.CallCount("slow") == 1);
  CHECK(f.State("late-1").global.status == "succeed");
}

TEST_CASE("the lease outlasts a call whose request_timeout is longer than the lease") {
  SagaFixture f([](CoordinatorOptions& o) { o.lease = absl::Seconds(2); });
  absl::Duration lease_left_during_call;
  f.Branch("slow", [&](int, const BranchRequest&) {
    lease_left_during_call = f.UntilNextCron("lease-1");
    return absl::OkStatus();
  });
  REQUIRE(f.NewSaga("lease-1")
              .Add(f.Url("slow"), "", "")
              .RequestTimeout(absl::Seconds(30))
              .WaitResult(true)
              .Submit()
              .ok());
  // Another coordinator may take the transaction over only after the call has ended.
  CHECK(lease_left_during_call >= absl::Seconds(30));
}

TEST_CASE("forceStop ends a transaction as failed without compensating") {
  SagaFixture f;
  f.Branch("a1");
  f.Branch("a2", OngoingError("waiting"));
  f.Branch("c1");
  CHECK(IsOngoing(f.NewSaga("stop-1")
                      .Add(f.Url("a1"), f.Url("c1"), "")
                      .Add(f.Url("a2"), f.Url("c1"), "")
                      .WaitResult(true)
                      .Submit()));
  REQUIRE(f.coordinator->ForceStop("stop-1").ok());
  TransactionState state = f.State("stop-1");
  CHECK(state.global.status == "failed");
  CHECK(state.global.rollback_reason == "force stopped");
  CHECK(f.AdvanceAndRun(absl::Seconds(5)) == 0);
  CHECK(f.CallCount("c1") == 0);
  CHECK(IsFailure(f.coordinator->ForceStop("stop-1")));  // a second one
  CHECK(absl::IsNotFound(f.coordinator->ForceStop("no-such-gid")));
  CHECK(absl::IsInvalidArgument(f.coordinator->ForceStop("bad gid")));
}

TEST_CASE("retry now makes a waiting transaction due at once") {
  SagaFixture f;
  f.Branch("a1", [](int call, const BranchRequest&) {
    return call == 1 ? absl::UnavailableError("down") : absl::OkStatus();
  });
  CHECK(IsOngoing(f.NewSaga("now-1")
                      .Add(f.Url("a1"), "", "")
                      .RetryInterval(absl::Hours(1))
                      .WaitResult(true)
                      .Submit()));
  CHECK(f.AdvanceAndRun(absl::ZeroDuration()) == 0);
  REQUIRE(f.coordinator->RetryNow("now-1").ok());
  CHECK(f.AdvanceAndRun(absl::ZeroDuration()) == 1);
  CHECK(f.State("now-1").global.status == "succeed");
  CHECK(IsFailure(f.coordinator->RetryNow("now-1")));
  CHECK(absl::IsNotFound(f.coordinator->RetryNow("no-such-gid")));
}

TEST_CASE("stuck transactions are listed with their last error, old ended ones purged") {
  SagaFixture f([](CoordinatorOptions& o) { o.retention = absl::Hours(1); });
  f.Branch("ok");
  f.Branch("down", absl::UnavailableError("connection refused"));
  REQUIRE(f.NewSaga("done-1").Add(f.Url("ok"), "", "").WaitResult(true).Submit().ok());
  CHECK(IsOngoing(
      f.NewSaga("stuck-1").Add(f.Url("down"), "", "").WaitResult(true).Submit()));
  f.AdvanceAndRun(absl::Minutes(10));
  auto stuck = f.coordinator->ListStuck(absl::Minutes(5), 10);
  REQUIRE(stuck.ok());
  REQUIRE(stuck->size() == 1);
  CHECK((*stuck)[0].gid == "stuck-1");
  CHECK(absl::StrContains((*stuck)[0].result, "connection refused"));
  CHECK((*stuck)[0].retry_count == 2);
  CHECK((*stuck)[0].next_cron_time > f.clock.Now());
  CHECK(f.coordinator->ListStuck(absl::Minutes(15), 10)->empty());
  CHECK(*f.coordinator->PurgeFinished() == 0);  // done-1 ended only 10 minutes ago
  f.clock.Advance(absl::Hours(1));
  CHECK(*f.coordinator->PurgeFinished() == 1);
  CHECK(absl::IsNotFound(f.coordinator->Query("done-1").status()));
  CHECK(f.coordinator->Query("stuck-1").ok());
}

TEST_CASE("transactions are listed newest first, by page and by status") {
  SagaFixture f;
  f.Branch("ok");
  f.Branch("no", FailureError("no"));
  for (const char* gid : {"list-1", "list-2", "list-3"}) {
    (void)f.NewSaga(gid)
        .Add(f.Url(std::string(gid) == "list-2" ? "no" : "ok"), "", "")
        .WaitResult(true)
        .Submit();
  }
  absl::StatusOr<std::vector<TransGlobal>> page = f.coordinator->List(0, "", "", 2);
  REQUIRE(page.ok());
  REQUIRE(page->size() == 2);
  CHECK((*page)[0].gid == "list-3");
  CHECK((*page)[1].gid == "list-2");
  absl::StatusOr<std::vector<TransGlobal>> rest =
      f.coordinator->List((*page)[1].id, "", "", 2);
  REQUIRE(rest.ok());
  REQUIRE(rest->size() == 1);
  CHECK((*rest)[0].gid == "list-1");
  absl::StatusOr<std::vector<TransGlobal>> failed = f.coordinator->List(0, "failed", "", 10);
  REQUIRE(failed.ok());
  REQUIRE(failed->size() == 1);
  CHECK((*failed)[0].gid == "list-2");
}

// The scan claims a TCC that timed out and reads its branches; the client registers
// one more before the pass moves it out of `prepared`. The pass must cancel that one
// too: it reads the rows again once the status has changed.
class RegistersDuringClaim : public StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  std::function<void()> after_read;
  absl::StatusOr<std::vector<TransBranch>> FindBranches(std::string_view gid) override {
    absl::StatusOr<std::vector<TransBranch>> rows = StoreWrapper::FindBranches(gid);
    if (after_read) std::exchange(after_read, nullptr)();
    return rows;
  }
};

TEST_CASE("a TCC timing out cancels a branch registered while the scan held it") {
  std::unique_ptr<RegistersDuringClaim> wrapper;
  SagaFixture f([&](CoordinatorOptions& o) {
    wrapper = std::make_unique<RegistersDuringClaim>(o.store);
    o.store = wrapper.get();
  });
  f.Branch("cancel");
  f.Branch("confirm");
  TransGlobal tcc;
  tcc.gid = "tcc-race";
  tcc.trans_type = "tcc";
  tcc.protocol = "local";
  REQUIRE(f.coordinator->Prepare(tcc).ok());
  auto branch = [&](const std::string& id) {
    return TccBranch{"tcc-race", id, "", f.Url("confirm"), f.Url("cancel")};
  };
  REQUIRE(f.coordinator->RegisterBranch(branch("01")).ok());
  wrapper->after_read = [&] { CHECK(f.coordinator->RegisterBranch(branch("02")).ok()); };
  CHECK(f.AdvanceAndRun(absl::Seconds(35)) == 1);
  CHECK(f.Calls() == Calls{"cancel", "cancel"});
  TransactionState state = f.State("tcc-race");
  CHECK(state.global.status == "failed");
  CHECK(state.branches.size() == 4);
  CHECK(IsFailure(f.coordinator->RegisterBranch(branch("03"))));
}

}  // namespace
}  // namespace dtx
