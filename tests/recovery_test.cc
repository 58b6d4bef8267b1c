// Crash recovery: a coordinator process is killed with SIGKILL in the middle of its
// sagas; a new coordinator on the same SQLite file finishes every one of them, and
// the barrier-protected branches show each op applied exactly once.
#include <signal.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <spawn.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "dtx/coordinator.h"
#include "dtx/soci/soci_store.h"
#include "recovery_branches.h"
#include "test_util.h"

extern char** environ;

namespace dtx {
namespace {

using testing::kAmount;
using testing::kInitialBalance;

std::vector<std::string> Lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::map<std::string, int> StatusCounts(const std::string& db) {
  soci::session sql(soci::sqlite3, "db=" + db + " timeout=30");
  std::map<std::string, int> counts;
  std::string status;
  int count = 0;
  soci::statement st =
      (sql.prepare << "SELECT status, COUNT(*) FROM dtx_trans GROUP BY status",
       soci::into(status), soci::into(count));
  st.execute();
  while (st.fetch()) counts[status] = count;
  return counts;
}

int Unfinished(const std::string& db) {
  int n = 0;
  for (const auto& [status, count] : StatusCounts(db)) {
    if (status != "succeed" && status != "failed") n += count;
  }
  return n;
}

TEST_CASE("a coordinator killed mid-saga: a new one finishes every transaction") {
  const std::string dir = testing::NewTempDir("recovery");
  testing::CreateBranchDatabases(dir);
  const int kSagas = 60;

  // 1. Run the child and kill it while sagas are in flight.
  pid_t child = 0;
  const std::string count = std::to_string(kSagas);
  char* argv[] = {const_cast<char*>(DTX_RECOVERY_CHILD), const_cast<char*>(dir.c_str()),
                  const_cast<char*>(count.c_str()), nullptr};
  REQUIRE(posix_spawn(&child, DTX_RECOVERY_CHILD, nullptr, nullptr, argv, environ) == 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (Lines(dir + "/submitted.txt").size() < kSagas &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  REQUIRE(kill(child, SIGKILL) == 0);
  int wstatus = 0;
  waitpid(child, &wstatus, 0);
  REQUIRE(WIFSIGNALED(wstatus));

  const std::vector<std::string> submitted = Lines(dir + "/submitted.txt");
  REQUIRE(submitted.size() == kSagas);
  const int unfinished_at_kill = Unfinished(dir + "/dtx.db");
  INFO("unfinished when killed: " << unfinished_at_kill);
  CHECK(unfinished_at_kill > 0);  // the kill did land mid-flight

  // 2. A new coordinator on the same file finishes them.
  auto store = SociStore::Open({.url = "sqlite://" + dir + "/dtx.db"});
  REQUIRE(store.ok());
  LocalTransport transport;
  testing::InstallBranches(transport, dir, /*delay_ms=*/0);
  CoordinatorOptions options;
  options.store = store->get();
  options.transports = {{"local", &transport}};
  options.lease = absl::Seconds(1);
  options.poll_interval = absl::Milliseconds(50);
  auto coordinator = Coordinator::Start(options);
  REQUIRE(coordinator.ok());
  const auto finish_by = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (Unfinished(dir + "/dtx.db") > 0 &&
         std::chrono::steady_clock::now() < finish_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  (*coordinator)->Shutdown();
  REQUIRE(Unfinished(dir + "/dtx.db") == 0);

  // 3. Every submitted saga ended as its branches say, each op applied once.
  int succeeded = 0;
  for (const std::string& gid : submitted) {
    auto state = (*coordinator)->Query(gid);
    REQUIRE(state.ok());
    const bool refused = std::stoi(gid.substr(gid.rfind('-') + 1)) % 4 == 0;
    CHECK(state->global.status == (refused ? "failed" : "succeed"));
    succeeded += state->global.status == "succeed";
  }
  for (const char* name : {"out.db", "in.db"}) {
    soci::session sql(soci::sqlite3, "db=" + dir + "/" + name + " timeout=30");
    int twice = -1;
    sql << "SELECT COUNT(*) FROM (SELECT gid, op FROM ledger GROUP BY gid, op "
           "HAVING COUNT(*) > 1)",
        soci::into(twice);
    CHECK(twice == 0);
    int balance = 0;
    sql << "SELECT balance FROM account WHERE id = 1", soci::into(balance);
    const int sign = std::string(name) == "out.db" ? -1 : 1;
    CHECK(balance == kInitialBalance + sign * kAmount * succeeded);
  }
  CHECK(succeeded == kSagas - (kSagas + 3) / 4);
}

}  // namespace
}  // namespace dtx
