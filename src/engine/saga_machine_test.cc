// The saga machine as tables: a stored state and the time -> the status change and
// the calls it decides; then short event sequences.
#include "engine/saga_machine.h"

#include <catch2/catch.hpp>

#include "dtx/result.h"
#include "engine/machine_test_util.h"

namespace dtx::engine {
namespace {

using testing::kT0;
using testing::MustCreate;
using testing::NewTrans;
using testing::Row;
constexpr Status P = Status::kPrepared, S = Status::kSucceed, F = Status::kFailed;

// Row index of step s's action and compensation: the rows are [compensate, action].
int A(int s) { return 2 * s + 1; }
int C(int s) { return 2 * s; }

std::unique_ptr<Machine> Saga(Status status, std::vector<std::pair<Status, Status>> steps,
                              std::string custom_data = "",
                              absl::Duration ttf = absl::ZeroDuration()) {
  Trans t = NewTrans(Mode::kSaga, status);
  t.custom_data = std::move(custom_data);
  t.timeout_to_fail = ttf;
  std::vector<Branch> rows;
  for (int s = 0; s < static_cast<int>(steps.size()); ++s) {
    rows.push_back(Row(s + 1, Op::kCompensate, steps[s].second));
    rows.push_back(Row(s + 1, Op::kAction, steps[s].first));
  }
  return MustCreate(std::move(t), std::move(rows));
}

TEST_CASE("saga machine: stored state and time -> status change and calls") {
  const std::string conc = R"({"concurrent":true,"orders":{"2":[0,1]}})";
  struct Case {
    const char* name;
    Status status;
    std::vector<std::pair<Status, Status>> steps;  // (action, compensate)
    std::string custom_data;
    absl::Duration ttf;
    absl::Duration age;
    std::optional<Transition> decided;
    BranchList calls;  // after the change, if any, is committed
  };
  const absl::Duration Z = absl::ZeroDuration();
  const std::vector<Case> cases = {
      {"fresh: the first action", Status::kSubmitted, {{P, P}, {P, P}}, "", Z, Z,
       std::nullopt, {A(0)}},
      {"in order: the next action", Status::kSubmitted, {{S, P}, {P, P}}, "", Z, Z,
       std::nullopt, {A(1)}},
      {"all actions done: succeed", Status::kSubmitted, {{S, P}, {S, P}}, "", Z, Z,
       Transition{Status::kSucceed, ""}, {}},
      {"no steps: succeed", Status::kSubmitted, {}, "", Z, Z,
       Transition{Status::kSucceed, ""}, {}},
      {"concurrent: every ready action", Status::kSubmitted, {{P, P}, {P, P}, {P, P}},
       conc, Z, Z, std::nullopt, {A(0), A(1)}},
      {"concurrent: a step waits for all its predecessors", Status::kSubmitted,
       {{S, P}, {P, P}, {P, P}}, conc, Z, Z, std::nullopt, {A(1)}},
      {"timeout_to_fail: aborting, the unfinished step compensated", Status::kSubmitted,
       {{S, P}, {P, P}}, "", absl::Seconds(30), absl::Seconds(30),
       Transition{Status::kAborting, "Timeout after 30 seconds"}, {C(1)}},
      {"before timeout_to_fail: on", Status::kSubmitted, {{S, P}, {P, P}}, "",
       absl::Seconds(30), absl::Seconds(29), std::nullopt, {A(1)}},
      {"aborting: the last called step first", Status::kAborting,
       {{S, P}, {F, P}, {P, P}}, "", Z, Z, std::nullopt, {C(1)}},
      {"aborting: then the one before", Status::kAborting, {{S, P}, {F, S}, {P, P}}, "",
       Z, Z, std::nullopt, {C(0)}},
      {"aborting: an action never called needs no compensation", Status::kAborting,
       {{S, S}, {F, S}, {P, P}}, "", Z, Z, Transition{Status::kFailed, ""}, {}},
      {"concurrent aborting: compensations in reverse order of the orders",
       Status::kAborting, {{S, P}, {S, P}, {F, P}}, conc, Z, Z, std::nullopt, {C(2)}},
      {"concurrent aborting: then those with no successor left", Status::kAborting,
       {{S, P}, {S, P}, {F, S}}, conc, Z, Z, std::nullopt, {C(1), C(0)}},
      {"ended: nothing", Status::kSucceed, {{S, P}}, "", Z, Z, std::nullopt, {}},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      std::unique_ptr<Machine> m = Saga(c.status, c.steps, c.custom_data, c.ttf);
      const absl::Time now = kT0 + c.age;
      std::optional<Transition> t = m->Decide(now);
      CHECK(t == c.decided);
      if (t) m->Committed(*t);
      CHECK(m->Calls(now, 64) == c.calls);
    }
  }
}

TEST_CASE("saga machine: an action FAILURE rolls back in reverse order") {
  std::unique_ptr<Machine> m = Saga(Status::kSubmitted, {{P, P}, {P, P}});
  REQUIRE(m->Calls(kT0, 64) == BranchList{A(0)});
  m->Answer(A(0), absl::OkStatus());
  CHECK(m->TakeChanged() == BranchList{A(0)});
  CHECK_FALSE(m->Decide(kT0).has_value());
  REQUIRE(m->Calls(kT0, 64) == BranchList{A(1)});
  m->Answer(A(1), FailureError("out of stock"));
  CHECK(m->TakeChanged() == BranchList{A(1)});
  CHECK(m->branches()[A(1)].status == F);
  const std::optional<Transition> t = m->Decide(kT0);
  REQUIRE(t == Transition{Status::kAborting,
                          "action 02 'http://b/action02' answered FAILURE: out of stock"});
  m->Committed(*t);
  REQUIRE(m->Calls(kT0, 64) == BranchList{C(1)});
  m->Answer(C(1), absl::OkStatus());
  REQUIRE(m->Calls(kT0, 64) == BranchList{C(0)});
  m->Answer(C(0), absl::OkStatus());
  CHECK(m->Decide(kT0) == Transition{Status::kFailed, ""});
}

TEST_CASE("saga machine: no rollback while a concurrent action is in flight") {
  std::unique_ptr<Machine> m =
      Saga(Status::kSubmitted, {{P, P}, {P, P}}, R"({"concurrent":true})");
  REQUIRE(m->Calls(kT0, 64) == BranchList{A(0), A(1)});
  m->Answer(A(0), FailureError("no"));
  CHECK_FALSE(m->Decide(kT0).has_value());  // action 02 may still be running
  CHECK(m->Calls(kT0, 64).empty());
  m->Answer(A(1), absl::UnavailableError("timed out"));
  REQUIRE(m->Decide(kT0).has_value());
}

TEST_CASE("saga machine: the call budget bounds the calls") {
  std::unique_ptr<Machine> m =
      Saga(Status::kSubmitted, {{P, P}, {P, P}, {P, P}}, R"({"concurrent":true})");
  CHECK(m->Calls(kT0, 2) == BranchList{A(0), A(1)});
  CHECK(m->in_flight() == 2);
  CHECK(m->Calls(kT0, 1) == BranchList{A(2)});
}

TEST_CASE("saga machine: an unfinished pass rests until the next") {
  Trans t = NewTrans(Mode::kSaga, Status::kSubmitted);
  t.timeout_to_fail = absl::Seconds(60);
  std::unique_ptr<Machine> m = MustCreate(t, {Row(1, Op::kCompensate), Row(1, Op::kAction)});
  REQUIRE(m->Calls(kT0, 64) == BranchList{1});
  m->Answer(1, absl::UnavailableError("connection refused"));
  CHECK(m->saw_error());
  CHECK(m->last_error() ==
        "action 01 'http://b/action01': UNAVAILABLE: connection refused");
  CHECK_FALSE(m->Decide(kT0).has_value());
  CHECK(m->Calls(kT0, 64).empty());  // tried in this pass: retried by the next one
  CHECK(m->Idle(kT0) == Rest{true, kT0 + absl::Seconds(60)});
  CHECK(m->trans().retry_count == 1);

  std::unique_ptr<Machine> ongoing =
      MustCreate(t, {Row(1, Op::kCompensate), Row(1, Op::kAction)});
  ongoing->Calls(kT0, 64);
  ongoing->Answer(1, OngoingError("not yet"));
  CHECK_FALSE(ongoing->saw_error());  // ONGOING waits retry_interval, no backoff
  CHECK(ongoing->Idle(kT0) == Rest{true, kT0 + absl::Seconds(60)});
}

TEST_CASE("saga machine: retry_limit retries an action within the pass, then rolls back") {
  Trans t = NewTrans(Mode::kSaga, Status::kSubmitted);
  t.retry_limit = 2;
  std::unique_ptr<Machine> m = MustCreate(t, {Row(1, Op::kCompensate), Row(1, Op::kAction)});
  REQUIRE(m->Calls(kT0, 64) == BranchList{1});
  m->Answer(1, absl::UnavailableError("down"));
  CHECK_FALSE(m->Decide(kT0).has_value());
  REQUIRE(m->Calls(kT0, 64) == BranchList{1});  // at once, in this pass
  m->Answer(1, OngoingError("not yet"));
  REQUIRE(m->Calls(kT0, 64) == BranchList{1});
  CHECK(m->trans().retry_count == 2);
  m->Answer(1, absl::UnavailableError("down"));
  CHECK(m->Calls(kT0, 64).empty());
  const std::optional<Transition> abort = m->Decide(kT0);
  REQUIRE(abort == Transition{Status::kAborting,
                              "RetryCount is greater than RetryLimit, RetryLimit: 2"});
  m->Committed(*abort);
  CHECK(m->Calls(kT0, 64) == BranchList{0});  // its compensation

  // A success within the limit goes on as usual.
  std::unique_ptr<Machine> ok = MustCreate(t, {Row(1, Op::kCompensate), Row(1, Op::kAction)});
  ok->Calls(kT0, 64);
  ok->Answer(1, absl::UnavailableError("down"));
  REQUIRE(ok->Calls(kT0, 64) == BranchList{1});
  ok->Answer(1, absl::OkStatus());
  CHECK(ok->Decide(kT0) == Transition{Status::kSucceed, ""});
}

TEST_CASE("saga machine: a compensation's FAILURE is retried, not recorded") {
  std::unique_ptr<Machine> m = Saga(Status::kAborting, {{F, P}});
  REQUIRE(m->Calls(kT0, 64) == BranchList{C(0)});
  m->Answer(C(0), FailureError("cannot"));
  CHECK(m->TakeChanged().empty());
  CHECK(m->branches()[C(0)].status == P);
  CHECK(m->saw_error());
  CHECK_FALSE(m->Decide(kT0).has_value());
  CHECK(m->Idle(kT0) == Rest{true, absl::InfiniteFuture()});
}

TEST_CASE("saga machine: rows that are not a saga's are refused") {
  Trans t = NewTrans(Mode::kSaga, Status::kSubmitted);
  CHECK(absl::IsInternal(Machine::Create(t, {Row(1, Op::kAction)}).status()));
  CHECK(absl::IsInternal(
      Machine::Create(t, {Row(1, Op::kAction), Row(1, Op::kAction)}).status()));
  CHECK(absl::IsInternal(
      Machine::Create(t, {Row(1, Op::kCompensate), Row(3, Op::kAction)}).status()));
  CHECK(absl::IsInternal(
      Machine::Create(t, {Row(1, Op::kCancel), Row(1, Op::kConfirm)}).status()));
}

}  // namespace
}  // namespace dtx::engine
