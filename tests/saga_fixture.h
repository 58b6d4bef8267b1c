// A coordinator on a real SQLite file with in-process branches and a manual clock:
// what the saga tests drive.
#ifndef DTX_TESTS_SAGA_FIXTURE_H_
#define DTX_TESTS_SAGA_FIXTURE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "dtx/clock.h"
#include "dtx/coordinator.h"
#include "dtx/local_transport.h"
#include "dtx/saga.h"
#include "dtx/soci/soci_store.h"

namespace dtx::testing {

class SagaFixture {
 public:
  // `configure` may change the coordinator options before it starts.
  explicit SagaFixture(
      const std::function<void(CoordinatorOptions&)>& configure = nullptr);
  ~SagaFixture();

  // Registers a branch at "local://<name>" whose answers come from `answer`, called
  // with the 1-based count of calls of this URL so far. Every call is logged.
  void Branch(const std::string& name,
              std::function<absl::Status(int call, const BranchRequest&)> answer);
  // A branch that always answers `status`.
  void Branch(const std::string& name, absl::Status status = absl::OkStatus());

  static std::string Url(const std::string& name) { return "local://" + name; }

  // A saga on this coordinator with protocol "local", retry_interval 1 s.
  Saga NewSaga(const std::string& gid);

  // The names of the branches called so far, in call order.
  std::vector<std::string> Calls();
  int CallCount(const std::string& name);

  TransactionState State(const std::string& gid);
  // Time until the transaction's next_cron_time.
  absl::Duration UntilNextCron(const std::string& gid);
  // Advances the clock by `d`, then runs every due pass. Returns how many ran.
  int AdvanceAndRun(absl::Duration d);

  ManualClock clock;
  std::string db_path;
  std::unique_ptr<SociStore> store;
  LocalTransport transport;
  std::unique_ptr<Coordinator> coordinator;

 private:
  absl::Mutex mu_;
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> counts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dtx::testing

#endif  // DTX_TESTS_SAGA_FIXTURE_H_
