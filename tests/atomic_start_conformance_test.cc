// The atomic start on every backend: a child process stores a saga or a message with
// its business write in one local transaction (StoreInTransaction) and dies by SIGKILL
// at each step; whatever the step, the transaction exists if and only if the business
// write does, and a coordinator started afterwards delivers exactly those.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>

#include "conformance.h"
#include "dtx/coordinator.h"
#include "dtx/local_transport.h"

extern char** environ;

namespace dtx {
namespace {

// Runs the child; its wait status.
int RunChild(const std::string& url, const std::string& gid, const std::string& mode,
             int step) {
  const std::string step_text = std::to_string(step);
  std::vector<char*> argv = {const_cast<char*>(DTX_ATOMIC_START_CHILD),
                             const_cast<char*>(url.c_str()),
                             const_cast<char*>(gid.c_str()),
                             const_cast<char*>(mode.c_str()),
                             const_cast<char*>(step_text.c_str()), nullptr};
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, DTX_ATOMIC_START_CHILD, nullptr, nullptr, argv.data(),
                      environ) == 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return status;
}

int Count(const std::string& table, const std::string& gid) {
  int n = -1;
  *testing::OpenSession() << "SELECT COUNT(*) FROM " + table + " WHERE gid = :g",
      soci::use(gid), soci::into(n);
  return n;
}

TEST_CASE("the atomic start: a transaction exists if and only if its local one commits") {
  if (testing::ConformanceBackend() == "memory") return;  // no local transactions
  std::unique_ptr<Store> store = testing::FreshStore();
  {
    auto sql = testing::OpenSession();
    *sql << "DROP TABLE IF EXISTS atomic_orders";
    *sql << "DROP TABLE IF EXISTS atomic_delivered";
    *sql << "CREATE TABLE atomic_orders (gid VARCHAR(128) PRIMARY KEY)";
    *sql << "CREATE TABLE atomic_delivered (gid VARCHAR(128))";
  }
  const std::string url = testing::ConformanceUrl();
  std::vector<std::pair<std::string, bool>> runs;  // gid, whether it must exist
  for (const std::string mode : {"saga", "msg"}) {
    for (int step = 0; step <= 5; ++step) {
      const std::string gid = "atomic-" + mode + "-" + std::to_string(step);
      INFO(gid);
      const int status = RunChild(url, gid, mode, step);
      if (step < 5) {
        CHECK(WIFSIGNALED(status));
        CHECK(WTERMSIG(status) == SIGKILL);
      } else {
        CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
      }
      const bool committed = step >= 3;
      CHECK(Count("atomic_orders", gid) == (committed ? 1 : 0));
      absl::StatusOr<TransGlobal> global = store->FindGlobal(gid);
      CHECK(global.ok() == committed);
      if (!global.ok()) CHECK(absl::IsNotFound(global.status()));
      runs.emplace_back(gid, committed);
    }
  }
  // A coordinator afterwards delivers every committed one (those whose process died
  // before its Submit included), and nothing else.
  LocalTransport transport;
  transport.Handle("local://deliver", [](const BranchRequest& r) {
    *testing::OpenSession() << "INSERT INTO atomic_delivered (gid) VALUES (:g)",
        soci::use(r.gid);
    return absl::OkStatus();
  });
  CoordinatorOptions options;
  options.store = store.get();
  options.transports = {{"local", &transport}};
  options.poll_interval = absl::ZeroDuration();
  auto coordinator = *Coordinator::Start(options);
  REQUIRE(coordinator->RunDue().ok());
  for (const auto& [gid, committed] : runs) {
    INFO(gid);
    if (committed) {
      CHECK(coordinator->Query(gid)->global.status == "succeed");
      CHECK(Count("atomic_delivered", gid) >= 1);
    } else {
      CHECK(Count("atomic_delivered", gid) == 0);
    }
  }
}

}  // namespace
}  // namespace dtx
