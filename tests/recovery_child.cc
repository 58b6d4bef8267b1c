// The coordinator process that the crash-recovery test kills with SIGKILL.
// Usage: recovery_child DIR COUNT
// Submits COUNT transfer sagas to an embedded coordinator on DIR/dtx.db and appends
// each gid to DIR/submitted.txt once Submit has returned OK; then waits to be killed.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "dtx/coordinator.h"
#include "dtx/soci/soci_store.h"
#include "recovery_branches.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: recovery_child DIR COUNT\n");
    return 2;
  }
  const std::string dir = argv[1];
  const int count = std::atoi(argv[2]);
  auto store = dtx::SociStore::Open({.url = "sqlite://" + dir + "/dtx.db"});
  if (!store.ok()) return 1;
  dtx::LocalTransport transport;
  dtx::testing::InstallBranches(transport, dir, /*delay_ms=*/15);
  dtx::CoordinatorOptions options;
  options.store = store->get();
  options.transports = {{"local", &transport}};
  options.lease = absl::Seconds(1);
  options.poll_interval = absl::Milliseconds(100);
  auto coordinator = dtx::Coordinator::Start(options);
  if (!coordinator.ok()) return 1;
  std::ofstream submitted(dir + "/submitted.txt", std::ios::app);
  for (int i = 0; i < count; ++i) {
    if ((*coordinator)->Submit(dtx::testing::TransferSaga(i)).ok()) {
      submitted << dtx::testing::TransferGid(i)
                << std::endl;  // flushed: survives SIGKILL
    }
  }
  while (true) std::this_thread::sleep_for(std::chrono::seconds(1));
}
