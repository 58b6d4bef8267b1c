// The TCC machine as tables: a stored state and the time -> the status change, the
// calls and the rest it decides.
#include "engine/tcc_machine.h"

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

// Rows of registered branch b (0-based): [cancel, confirm].
int Cancel(int b) { return 2 * b; }
int Confirm(int b) { return 2 * b + 1; }

std::unique_ptr<Machine> Tcc(Status status,
                             std::vector<std::pair<Status, Status>> branches) {
  Trans t = NewTrans(Mode::kTcc, status);
  t.timeout_to_fail = absl::Seconds(35);
  std::vector<Branch> rows;
  for (int b = 0; b < static_cast<int>(branches.size()); ++b) {
    rows.push_back(Row(b + 1, Op::kCancel, branches[b].second));
    rows.push_back(Row(b + 1, Op::kConfirm, branches[b].first));
  }
  return MustCreate(std::move(t), std::move(rows));
}

TEST_CASE("tcc machine: stored state and time -> status change, calls, rest") {
  struct Case {
    const char* name;
    Status status;
    std::vector<std::pair<Status, Status>> branches;  // (confirm, cancel)
    absl::Duration age;
    std::optional<Transition> decided;
    BranchList calls;
    std::optional<Rest> rest;  // when no call is made
  };
  const std::vector<Case> cases = {
      {"prepared: the client is registering; look again at its timeout",
       Status::kPrepared, {{P, P}}, absl::Seconds(34), std::nullopt, {},
       Rest{false, kT0 + absl::Seconds(35)}},
      {"prepared past timeout_to_fail: aborting, cancels from the last",
       Status::kPrepared, {{P, P}, {P, P}}, absl::Seconds(35),
       Transition{Status::kAborting, "Timeout after 35 seconds"}, {Cancel(1)},
       std::nullopt},
      {"prepared with no branch, timed out: aborting", Status::kPrepared, {},
       absl::Seconds(40), Transition{Status::kAborting, "Timeout after 35 seconds"}, {},
       std::nullopt},
      {"submitted: the last registered confirm first", Status::kSubmitted,
       {{P, P}, {P, P}, {P, P}}, absl::ZeroDuration(), std::nullopt, {Confirm(2)},
       std::nullopt},
      {"submitted: one at a time, towards the first", Status::kSubmitted,
       {{P, P}, {P, P}, {S, P}}, absl::ZeroDuration(), std::nullopt, {Confirm(1)},
       std::nullopt},
      {"submitted, every confirm done: succeed", Status::kSubmitted, {{S, P}, {S, P}},
       absl::ZeroDuration(), Transition{Status::kSucceed, ""}, {}, std::nullopt},
      {"submitted long after the timeout: still confirmed", Status::kSubmitted,
       {{P, P}}, absl::Hours(1), std::nullopt, {Confirm(0)}, std::nullopt},
      {"aborting: the last registered cancel first", Status::kAborting, {{P, P}, {P, P}},
       absl::ZeroDuration(), std::nullopt, {Cancel(1)}, std::nullopt},
      {"aborting, every cancel done: failed", Status::kAborting, {{P, S}, {P, S}},
       absl::ZeroDuration(), Transition{Status::kFailed, ""}, {}, std::nullopt},
      {"submitted with no branch: succeed", Status::kSubmitted, {},
       absl::ZeroDuration(), Transition{Status::kSucceed, ""}, {}, std::nullopt},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      std::unique_ptr<Machine> m = Tcc(c.status, c.branches);
      const absl::Time now = kT0 + c.age;
      std::optional<Transition> t = m->Decide(now);
      CHECK(t == c.decided);
      if (t) m->Committed(*t);
      CHECK(m->Calls(now, 64) == c.calls);
      if (c.rest) CHECK(m->Idle(now) == c.rest);
    }
  }
}

TEST_CASE("tcc machine: a confirm answering FAILURE or an error is retried later") {
  for (absl::Status answer : {FailureError("no"), absl::UnavailableError("down")}) {
    std::unique_ptr<Machine> m = Tcc(Status::kSubmitted, {{P, P}, {P, P}});
    REQUIRE(m->Calls(kT0, 64) == BranchList{Confirm(1)});
    m->Answer(Confirm(1), answer);
    CHECK(m->TakeChanged().empty());
    CHECK(m->saw_error());
    CHECK(m->last_error().find("confirm 02 'http://b/confirm02'") == 0);
    // Not called again in this pass, and the one before waits for it.
    CHECK(m->Calls(kT0, 64).empty());
    CHECK_FALSE(m->Decide(kT0).has_value());
    CHECK(m->Idle(kT0) == Rest{true, absl::InfiniteFuture()});
    CHECK(m->trans().retry_count == 1);
  }
}

TEST_CASE("tcc machine: confirms run last to first and the TCC succeeds") {
  std::unique_ptr<Machine> m = Tcc(Status::kSubmitted, {{P, P}, {P, P}});
  REQUIRE(m->Calls(kT0, 64) == BranchList{Confirm(1)});
  CHECK(m->Calls(kT0, 64).empty());  // one at a time
  m->Answer(Confirm(1), absl::OkStatus());
  CHECK_FALSE(m->Decide(kT0).has_value());
  REQUIRE(m->Calls(kT0, 64) == BranchList{Confirm(0)});
  m->Answer(Confirm(0), absl::OkStatus());
  CHECK(m->TakeChanged() == BranchList{Confirm(1), Confirm(0)});
  CHECK(m->Decide(kT0) == Transition{Status::kSucceed, ""});
}

TEST_CASE("tcc machine: rows that are not [cancel, confirm] pairs are refused") {
  Trans t = NewTrans(Mode::kTcc, Status::kSubmitted);
  CHECK(absl::IsInternal(Machine::Create(t, {Row(1, Op::kCancel)}).status()));
  CHECK(absl::IsInternal(
      Machine::Create(t, {Row(1, Op::kConfirm), Row(1, Op::kCancel)}).status()));
  CHECK(absl::IsInternal(
      Machine::Create(t, {Row(1, Op::kCancel), Row(2, Op::kConfirm)}).status()));
}

}  // namespace
}  // namespace dtx::engine
