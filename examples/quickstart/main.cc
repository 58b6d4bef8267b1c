// dtx quickstart: two bank services, each with its own SQLite database and barrier,
// serve transfer branches over HTTP on 127.0.0.1; an embedded coordinator on SQLite
// runs one saga that succeeds and one that is rolled back.
//
// Usage: quickstart [WORK_DIR]   (default: a new directory under /tmp)
// Exits non-zero if any outcome differs from what is printed as expected.
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "bank.h"
#include "dtx/coordinator.h"
#include "dtx/gid.h"
#include "dtx/http/http_branch.h"
#include "dtx/http/http_transport.h"
#include "dtx/result.h"
#include "dtx/saga.h"
#include "dtx/soci/barrier.h"
#include "dtx/soci/soci_store.h"

namespace {

using quickstart::Bank;

// A branch handler moving `sign * amount` on the account named in the payload
// {"account":N,"amount":M}, behind the barrier.
dtx::BranchHandler Transfer(Bank& bank, int sign) {
  return [&bank, sign](const dtx::BranchInfo& info, const dtx::HttpRequest& req) {
    nlohmann::json body =
        nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (!body.is_object() || !body["account"].is_number_integer() ||
        !body["amount"].is_number_integer() || body["amount"].get<int>() <= 0) {
      return dtx::FailureError("payload must be {\"account\":int,\"amount\":int > 0}");
    }
    const int account = body["account"], amount = body["amount"];
    soci::session sql(bank.pool());
    return dtx::Barrier(info).Call(
        sql, [&](soci::session& tx) { return Bank::Adjust(tx, account, sign * amount); });
  };
}

std::string Payload(int account, int amount) {
  return nlohmann::json{{"account", account}, {"amount", amount}}.dump();
}

int failures = 0;

void Expect(bool ok, const std::string& what) {
  std::printf("  %s %s\n", ok ? "ok:  " : "FAIL:", what.c_str());
  if (!ok) ++failures;
}

void PrintState(dtx::Coordinator& coordinator, const std::string& gid) {
  absl::StatusOr<dtx::TransactionState> state = coordinator.Query(gid);
  if (!state.ok()) {
    std::printf("  query %s: %s\n", gid.c_str(), state.status().ToString().c_str());
    return;
  }
  std::printf("  transaction %s: %s%s%s\n", gid.c_str(), state->global.status.c_str(),
              state->global.rollback_reason.empty() ? "" : ", reason: ",
              state->global.rollback_reason.c_str());
  for (const dtx::TransBranch& b : state->branches) {
    std::printf("    branch %s %-10s %-8s %s\n", b.branch_id.c_str(), b.op.c_str(),
                b.status.c_str(), b.url.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  if (argc > 1) {
    dir = argv[1];
  } else {
    char pattern[] = "/tmp/dtx-quickstart-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return 2;
    dir = pattern;
  }
  std::printf("dtx quickstart: two banks, an embedded coordinator, sagas over HTTP\n");
  std::printf("  work dir: %s\n", dir.c_str());

  // Two services, each with its own database.
  auto bank_a = Bank::Open(dir + "/bank_a.db", 1, 100);
  auto bank_b = Bank::Open(dir + "/bank_b.db", 2, 100);
  if (!bank_a.ok() || !bank_b.ok()) {
    std::fprintf(stderr, "cannot open the banks' databases\n");
    return 1;
  }
  dtx::HttpBranchServer service_a, service_b;
  service_a.Handle("/TransOut", Transfer(**bank_a, -1));
  service_a.Handle("/TransOutCompensate", Transfer(**bank_a, +1));
  service_b.Handle("/TransIn", Transfer(**bank_b, +1));
  service_b.Handle("/TransInCompensate", Transfer(**bank_b, -1));
  absl::StatusOr<int> port_a = service_a.Start(), port_b = service_b.Start();
  if (!port_a.ok() || !port_b.ok()) {
    std::fprintf(stderr, "cannot listen on 127.0.0.1\n");
    return 1;
  }
  const std::string a = "http://127.0.0.1:" + std::to_string(*port_a);
  const std::string b = "http://127.0.0.1:" + std::to_string(*port_b);
  std::printf("  bank A at %s, bank B at %s\n", a.c_str(), b.c_str());

  // The coordinator, embedded, on its own SQLite database.
  auto store = dtx::SociStore::Open({.url = "sqlite://" + dir + "/dtx.db"});
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  dtx::HttpTransport http;
  dtx::CoordinatorOptions options;
  options.store = store->get();
  options.transports = {{"http", &http}};
  auto coordinator = dtx::Coordinator::Start(options);
  if (!coordinator.ok()) return 1;
  dtx::GidGenerator gids;

  auto balances = [&] {
    std::printf("  balances: A#1=%d B#1=%d B#2=%d\n", (*bank_a)->Balance(1).value_or(-1),
                (*bank_b)->Balance(1).value_or(-1), (*bank_b)->Balance(2).value_or(-1));
  };
  balances();

  std::printf("\n1. transfer 30 from A#1 to B#1\n");
  dtx::Saga ok_saga(coordinator->get(), gids.Next());
  ok_saga.Add(a + "/TransOut", a + "/TransOutCompensate", Payload(1, 30))
      .Add(b + "/TransIn", b + "/TransInCompensate", Payload(1, 30))
      .WaitResult(true);
  absl::Status first = ok_saga.Submit();
  std::printf("  submit: %s\n", first.ToString().c_str());
  PrintState(**coordinator, ok_saga.gid());
  balances();
  Expect(first.ok(), "the saga succeeded");
  Expect((*bank_a)->Balance(1).value_or(-1) == 70 &&
             (*bank_b)->Balance(1).value_or(-1) == 130,
         "A#1 = 70 and B#1 = 130");

  std::printf("\n2. transfer 50 from A#1 to B#2, which bank B has frozen\n");
  (void)(*bank_b)->Freeze(2).ok();
  dtx::Saga failing(coordinator->get(), gids.Next());
  failing.Add(a + "/TransOut", a + "/TransOutCompensate", Payload(1, 50))
      .Add(b + "/TransIn", b + "/TransInCompensate", Payload(2, 50))
      .WaitResult(true);
  absl::Status second = failing.Submit();
  std::printf("  submit: %s\n", second.ToString().c_str());
  PrintState(**coordinator, failing.gid());
  balances();
  Expect(dtx::IsFailure(second), "the saga was rolled back (FAILURE)");
  Expect((*bank_a)->Balance(1).value_or(-1) == 70,
         "TransOut was compensated: A#1 back at 70");
  Expect((*bank_b)->Balance(2).value_or(-1) == 100, "B#2 untouched at 100");
  auto state = (*coordinator)->Query(failing.gid());
  Expect(state.ok() && state->global.status == "failed", "transaction status is failed");

  (*coordinator)->Shutdown();
  std::printf("\n%s\n", failures == 0 ? "quickstart: every outcome as expected"
                                      : "quickstart: SOME OUTCOMES DIFFER");
  return failures == 0 ? 0 : 1;
}
