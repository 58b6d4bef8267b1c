// A forwarding wrapper around a real Transport that injects the faults of a bad
// network: errors before the branch sees a call, answers lost after it ran, calls that
// hang past their timeout and reach the branch late (possibly after their
// compensation), and duplicated deliveries.
#ifndef DTX_TESTS_FAULTY_TRANSPORT_H_
#define DTX_TESTS_FAULTY_TRANSPORT_H_

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "dtx/transport.h"

namespace dtx::testing {

struct Faults {
  double error_before = 0.15;  // the branch never sees the call
  double answer_lost = 0.15;   // the branch ran it; the coordinator hears an error
  double hang = 0.05;          // timeout for the coordinator; the branch gets it late
  double duplicate = 0.10;     // delivered twice
  absl::Duration late_by = absl::Seconds(1);  // how late a hung call arrives
};

class FaultyTransport : public TransportWrapper {
 public:
  FaultyTransport(Transport* target, Faults faults, uint64_t seed = 42)
      : TransportWrapper(target), faults_(faults), rng_(seed) {}
  ~FaultyTransport() override { WaitForLateCalls(); }

  void Call(const BranchRequest& request, Callback done) override;

  // Waits until every late delivery reached its branch.
  void WaitForLateCalls();

  std::atomic<int> errors_before{0}, answers_lost{0}, hangs{0}, duplicates{0};

 private:
  double Roll();

  const Faults faults_;
  absl::Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> late_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dtx::testing

#endif  // DTX_TESTS_FAULTY_TRANSPORT_H_
