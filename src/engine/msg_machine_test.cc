// The 2-phase message machine as tables: a stored state and the time -> the status
// change, the calls and the rest it decides; then the back-check's answers.
#include "engine/msg_machine.h"

#include <catch2/catch.hpp>

#include "dtx/result.h"
#include "engine/machine_test_util.h"

namespace dtx::engine {
namespace {

using testing::kT0;
using testing::MustCreate;
using testing::NewTrans;
using testing::Row;
constexpr Status P = Status::kPrepared, S = Status::kSucceed;

std::unique_ptr<Machine> Msg(Status status, std::vector<Status> actions,
                             std::string custom_data = "") {
  Trans t = NewTrans(Mode::kMsg, status);
  t.timeout_to_fail = absl::Seconds(35);
  t.query_prepared = "http://b/queryprepared";
  t.custom_data = std::move(custom_data);
  std::vector<Branch> rows;
  for (int i = 0; i < static_cast<int>(actions.size()); ++i) {
    rows.push_back(Row(i + 1, Op::kAction, actions[i]));
  }
  return MustCreate(std::move(t), std::move(rows));
}

TEST_CASE("msg machine: stored state and time -> status change, calls, rest") {
  struct Case {
    const char* name;
    Status status;
    std::vector<Status> actions;
    std::string custom_data;
    absl::Duration age;
    std::optional<Transition> decided;
    BranchList calls;
    std::optional<Rest> rest;  // when no call is made
  };
  const absl::Duration Z = absl::ZeroDuration();
  const std::vector<Case> cases = {
      {"prepared: the client has until its timeout", Status::kPrepared, {P, P}, "",
       absl::Seconds(10), std::nullopt, {}, Rest{false, kT0 + absl::Seconds(35)}},
      {"prepared past its timeout: the back-check", Status::kPrepared, {P, P}, "",
       absl::Seconds(35), std::nullopt, {kQueryPrepared}, std::nullopt},
      {"submitted: the actions in order", Status::kSubmitted, {P, P, P}, "", Z,
       std::nullopt, {0}, std::nullopt},
      {"submitted: the next action", Status::kSubmitted, {S, P, P}, "", Z, std::nullopt,
       {1}, std::nullopt},
      {"concurrent: every action at once", Status::kSubmitted, {P, S, P},
       R"({"concurrent":true})", Z, std::nullopt, {0, 2}, std::nullopt},
      {"delay: nothing before it, then the actions", Status::kSubmitted, {P, P},
       R"({"delay":20})", absl::Seconds(19), std::nullopt, {},
       Rest{false, kT0 + absl::Seconds(20)}},
      {"delay passed", Status::kSubmitted, {P, P}, R"({"delay":20})", absl::Seconds(20),
       std::nullopt, {0}, std::nullopt},
      {"every action done: succeed", Status::kSubmitted, {S, S}, "", Z,
       Transition{Status::kSucceed, ""}, {}, std::nullopt},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      std::unique_ptr<Machine> m = Msg(c.status, c.actions, c.custom_data);
      const absl::Time now = kT0 + c.age;
      std::optional<Transition> t = m->Decide(now);
      CHECK(t == c.decided);
      if (t) m->Committed(*t);
      CHECK(m->Calls(now, 64) == c.calls);
      if (c.rest) CHECK(m->Idle(now) == c.rest);
    }
  }
}

TEST_CASE("msg machine: the back-check's answer settles a prepared message") {
  const absl::Time late = kT0 + absl::Seconds(40);
  SECTION("SUCCESS: submitted, and the actions run in the same pass") {
    std::unique_ptr<Machine> m = Msg(Status::kPrepared, {P, P});
    REQUIRE(m->Calls(late, 64) == BranchList{kQueryPrepared});
    m->Answer(kQueryPrepared, absl::OkStatus());
    CHECK(m->TakeChanged().empty());  // not a row
    const std::optional<Transition> t = m->Decide(late);
    REQUIRE(t == Transition{Status::kSubmitted, ""});
    m->Committed(*t);
    CHECK(m->Calls(late, 64) == BranchList{0});
  }
  SECTION("FAILURE: failed, with the answer as the reason") {
    std::unique_ptr<Machine> m = Msg(Status::kPrepared, {P});
    m->Calls(late, 64);
    m->Answer(kQueryPrepared, FailureError("rolled back"));
    CHECK(m->Decide(late) ==
          Transition{Status::kFailed,
                     "query_prepared 'http://b/queryprepared' answered FAILURE: rolled back"});
  }
  SECTION("ONGOING or an error: asked again by a later pass") {
    for (absl::Status answer : {OngoingError("not yet"), absl::UnavailableError("down")}) {
      std::unique_ptr<Machine> m = Msg(Status::kPrepared, {P});
      m->Calls(late, 64);
      m->Answer(kQueryPrepared, answer);
      CHECK_FALSE(m->Decide(late).has_value());
      CHECK(m->Calls(late, 64).empty());  // once a pass
      CHECK(m->Idle(late) == Rest{true, absl::InfiniteFuture()});
      CHECK(m->last_error().find("query_prepared 'http://b/queryprepared'") == 0);
    }
  }
}

TEST_CASE("msg machine: an action answering FAILURE is retried, never rolled back") {
  std::unique_ptr<Machine> m = Msg(Status::kSubmitted, {P, P});
  REQUIRE(m->Calls(kT0, 64) == BranchList{0});
  m->Answer(0, FailureError("no"));
  CHECK(m->branches()[0].status == P);
  CHECK_FALSE(m->Decide(kT0).has_value());
  CHECK(m->Calls(kT0, 64).empty());  // in order: the second waits for the first
  CHECK(m->Idle(kT0) == Rest{true, absl::InfiniteFuture()});
}

TEST_CASE("msg machine: rows that are not a message's are refused") {
  Trans t = NewTrans(Mode::kMsg, Status::kSubmitted);
  CHECK(absl::IsInternal(Machine::Create(t, {Row(2, Op::kAction)}).status()));
  CHECK(absl::IsInternal(Machine::Create(t, {Row(1, Op::kCompensate)}).status()));
  t.custom_data = R"({"delay":"soon"})";
  CHECK(absl::IsInternal(Machine::Create(t, {Row(1, Op::kAction)}).status()));
}

}  // namespace
}  // namespace dtx::engine
