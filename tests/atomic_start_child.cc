// The process the atomic-start test kills (SIGKILL, by itself) at one step of
//   begin; business write; StoreInTransaction; commit; Submit
// Usage: atomic_start_child URL GID saga|msg STEP
// STEP 0-4 dies before begin, after the business write, after StoreInTransaction
// (inside the local transaction), after the commit, after Submit; 5 lives to the end.
#include <soci/soci.h>

#include <csignal>
#include <cstdio>
#include <string>

#include "dtx/coordinator.h"
#include "dtx/local_transport.h"
#include "dtx/msg.h"
#include "dtx/saga.h"
#include "dtx/soci/in_transaction.h"
#include "dtx/soci/soci_store.h"
#include "dtx/soci/storage_url.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: atomic_start_child URL GID saga|msg STEP\n");
    return 2;
  }
  const std::string url = argv[1], gid = argv[2], mode = argv[3];
  const int step = std::atoi(argv[4]);
  auto die = [&](int at) {
    if (step == at) std::raise(SIGKILL);
  };
  auto store = dtx::SociStore::Open({.url = url});
  if (!store.ok()) return 3;
  dtx::LocalTransport transport;
  transport.Handle("local://deliver", [&](const dtx::BranchRequest& r) {
    soci::session delivered;
    if (!dtx::OpenSession(delivered, url).ok()) return absl::UnavailableError("db");
    delivered << "INSERT INTO atomic_delivered (gid) VALUES (:g)", soci::use(r.gid);
    return absl::OkStatus();
  });
  dtx::CoordinatorOptions options;
  options.store = store->get();
  options.transports = {{"local", &transport}};
  options.poll_interval = absl::ZeroDuration();
  auto coordinator = dtx::Coordinator::Start(options);
  if (!coordinator.ok()) return 4;
  const dtx::TransGlobal global =
      mode == "saga" ? dtx::Saga(coordinator->get(), gid)
                           .Add("local://deliver", "", "{}")
                           .Protocol("local")
                           .WaitResult(true)
                           .Build()
                     : dtx::Msg(coordinator->get(), gid)
                           .Add("local://deliver", "{}")
                           .Protocol("local")
                           .WaitResult(true)
                           .Build();
  soci::session sql;
  if (!dtx::OpenSession(sql, url).ok()) return 5;
  die(0);
  {
    soci::transaction tx(sql);
    sql << "INSERT INTO atomic_orders (gid) VALUES (:g)", soci::use(gid);
    die(1);
    if (!dtx::StoreInTransaction(**coordinator, sql, global).ok()) return 6;
    die(2);
    tx.commit();
  }
  die(3);
  if (!(*coordinator)->Submit(global).ok()) return 7;
  die(4);
  return 0;
}
