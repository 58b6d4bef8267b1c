// Writes the fixtures of the layout migration test (tests/layout_migration_test.cc):
// transactions in every state, stored by the coordinator of commit ac3e3ee, the last
// one with DTM's two-table layout (trans_global + trans_branch_op). Kept for the
// record; it is not part of the build (built against ac3e3ee, it would write the new
// layout today). Usage: write_fixtures STORAGE_URL; then dump the two tables
// (README.md in this directory).
//
// Branches are local://old/<name>: the test serves the same URLs. What each answered
// here decides the state each transaction was left in:
//   old-saga-done       succeed (both actions answered OK)
//   old-saga-failed     failed (action 02 answered FAILURE; compensations OK)
//   old-saga-midway     submitted: action 01 succeed, 02 answered an error
//   old-saga-aborting   aborting: action 02 FAILURE, compensate 01 an error
//   old-saga-concurrent submitted, concurrent, binary payloads, headers, retry_limit
//   old-tcc-prepared    prepared, two branches registered, timeout_to_fail 60 s
//   old-tcc-submitted   submitted: confirm 01 succeed, confirm 02 an error
//   old-msg-prepared    prepared, query_prepared local://old/query
//   old-msg-submitted   submitted: its action answered an error
#include <iostream>
#include <string>
#include <thread>

#include "dtx/coordinator.h"
#include "dtx/local_transport.h"
#include "dtx/soci/soci_store.h"

namespace {

using dtx::TransGlobal;

TransGlobal Saga(const std::string& gid, int steps) {
  TransGlobal g;
  g.gid = gid;
  g.trans_type = "saga";
  g.protocol = "local";
  for (int i = 1; i <= steps; ++i) {
    g.steps.push_back({"local://old/" + gid + "/action" + std::to_string(i),
                       "local://old/" + gid + "/compensate" + std::to_string(i)});
    g.payloads.push_back("{\"step\":" + std::to_string(i) + "}");
  }
  return g;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: write_fixtures STORAGE_URL\n";
    return 2;
  }
  dtx::SociStoreOptions store_options;
  store_options.url = argv[1];
  auto store = dtx::SociStore::Open(store_options);
  if (!store.ok()) {
    std::cerr << store.status() << "\n";
    return 1;
  }
  dtx::LocalTransport local;
  auto ok = [](const dtx::BranchRequest&) { return absl::OkStatus(); };
  auto failure = [](const dtx::BranchRequest&) { return absl::AbortedError("FAILURE"); };
  auto error = [](const dtx::BranchRequest&) {
    return absl::UnavailableError("branch down");
  };
  for (const char* gid : {"old-saga-done", "old-saga-failed", "old-saga-midway",
                          "old-saga-aborting", "old-saga-concurrent"}) {
    for (int i = 1; i <= 3; ++i) {
      const std::string base = std::string("local://old/") + gid;
      local.Handle(base + "/action" + std::to_string(i), ok);
      local.Handle(base + "/compensate" + std::to_string(i), ok);
    }
  }
  local.Handle("local://old/old-saga-failed/action2", failure);
  local.Handle("local://old/old-saga-midway/action2", error);
  local.Handle("local://old/old-saga-aborting/action2", failure);
  local.Handle("local://old/old-saga-aborting/compensate1", error);
  local.Handle("local://old/old-saga-concurrent/action1", error);
  local.Handle("local://old/old-saga-concurrent/action2", error);
  local.Handle("local://old/old-tcc-submitted/confirm1", ok);
  local.Handle("local://old/old-tcc-submitted/confirm2", error);
  local.Handle("local://old/old-msg-submitted/action1", error);

  dtx::CoordinatorOptions options;
  options.store = store->get();
  options.transports["local"] = &local;
  options.owner = "old-writer";
  options.poll_interval = absl::ZeroDuration();  // no scans: each stays as left
  auto coordinator = dtx::Coordinator::Start(options);
  if (!coordinator.ok()) {
    std::cerr << coordinator.status() << "\n";
    return 1;
  }
  dtx::Coordinator& c = **coordinator;
  auto check = [](absl::Status s, const char* what) {
    if (!s.ok()) {
      std::cerr << what << ": " << s << "\n";
      std::exit(1);
    }
  };
  for (const char* gid :
       {"old-saga-done", "old-saga-failed", "old-saga-midway", "old-saga-aborting"}) {
    TransGlobal g = Saga(gid, 2);
    g.options.wait_result = true;
    (void)c.Submit(g);  // the outcome is read below
  }
  {
    TransGlobal g = Saga("old-saga-concurrent", 3);
    g.custom_data = R"({"concurrent":true,"orders":{"2":[0,1]}})";
    g.payloads[0] = std::string("bin\0\x01\xff\xfe", 7);
    g.payloads[1] = "";
    g.options.branch_headers = {{"X-Tenant", "t1"}};
    g.options.retry_interval = absl::Seconds(5);
    g.options.request_timeout = absl::Seconds(4);
    g.options.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    g.options.wait_result = true;
    (void)c.Submit(g);
  }
  for (const char* gid : {"old-tcc-prepared", "old-tcc-submitted"}) {
    TransGlobal g;
    g.gid = gid;
    g.trans_type = "tcc";
    g.protocol = "local";
    g.options.timeout_to_fail = absl::Seconds(60);
    check(c.Prepare(g), "prepare");
    for (int i = 1; i <= 2; ++i) {
      dtx::TccBranch b;
      b.gid = gid;
      b.branch_id = "0" + std::to_string(i);
      b.data = "{\"tcc\":" + std::to_string(i) + "}";
      b.confirm = std::string("local://old/") + gid + "/confirm" + std::to_string(i);
      b.cancel = std::string("local://old/") + gid + "/cancel" + std::to_string(i);
      check(c.RegisterBranch(b), "register");
    }
  }
  {
    TransGlobal g;
    g.gid = "old-tcc-submitted";
    g.trans_type = "tcc";
    g.protocol = "local";
    g.options.wait_result = true;
    (void)c.Submit(g);
  }
  for (const char* gid : {"old-msg-prepared", "old-msg-submitted"}) {
    TransGlobal g;
    g.gid = gid;
    g.trans_type = "msg";
    g.protocol = "local";
    g.query_prepared = "local://old/query";
    g.steps.push_back({std::string("local://old/") + gid + "/action1", ""});
    g.payloads.push_back("{\"msg\":1}");
    g.options.timeout_to_fail = absl::Seconds(60);
    check(c.Prepare(g), "prepare");
  }
  {
    TransGlobal g;
    g.gid = "old-msg-submitted";
    g.trans_type = "msg";
    g.protocol = "local";
    g.query_prepared = "local://old/query";
    g.steps.push_back({"local://old/old-msg-submitted/action1", ""});
    g.payloads.push_back("{\"msg\":1}");
    g.options.wait_result = true;
    (void)c.Submit(g);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  c.Shutdown();
  for (const char* gid : {"old-saga-done", "old-saga-failed", "old-saga-midway",
                          "old-saga-aborting", "old-saga-concurrent", "old-tcc-prepared",
                          "old-tcc-submitted", "old-msg-prepared", "old-msg-submitted"}) {
    auto global = (*store)->FindGlobal(gid);
    auto branches = (*store)->FindBranches(gid);
    if (!global.ok() || !branches.ok()) {
      std::cerr << gid << ": not stored\n";
      return 1;
    }
    std::cout << gid << " " << global->status;
    for (const dtx::TransBranch& b : *branches) {
      std::cout << " " << b.branch_id << "/" << b.op << "=" << b.status;
    }
    std::cout << "\n";
  }
  return 0;
}
