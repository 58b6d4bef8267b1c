#include "faulty_transport.h"

#include <chrono>
#include <memory>

#include "absl/synchronization/notification.h"

namespace dtx::testing {

double FaultyTransport::Roll() {
  absl::MutexLock lock(&mu_);
  return std::uniform_real_distribution<double>(0, 1)(rng_);
}

void FaultyTransport::Call(const BranchRequest& request, Callback done) {
  double roll = Roll();
  if ((roll -= faults_.error_before) < 0) {
    ++errors_before;
    std::move(done)(absl::UnavailableError("injected: connection reset before sending"));
    return;
  }
  if ((roll -= faults_.answer_lost) < 0) {
    ++answers_lost;
    target()->Call(request, [done = std::move(done)](absl::Status) mutable {
      std::move(done)(absl::UnavailableError("injected: answer lost"));
    });
    return;
  }
  if ((roll -= faults_.hang) < 0) {
    ++hangs;
    const absl::Duration timeout = request.timeout, late_by = faults_.late_by;
    absl::MutexLock lock(&mu_);
    late_.emplace_back(
        [this, request, timeout, late_by, done = std::move(done)]() mutable {
          std::this_thread::sleep_for(
              std::chrono::microseconds(absl::ToInt64Microseconds(timeout)));
          std::move(done)(absl::DeadlineExceededError("injected: no answer in time"));
          std::this_thread::sleep_for(
              std::chrono::microseconds(absl::ToInt64Microseconds(late_by)));
          absl::Notification delivered;
          target()->Call(request, [&delivered](absl::Status) { delivered.Notify(); });
          delivered.WaitForNotification();
        });
    return;
  }
  if ((roll -= faults_.duplicate) < 0) {
    ++duplicates;
    auto second = std::make_shared<BranchRequest>(request);
    target()->Call(request,
                   [this, second, done = std::move(done)](absl::Status s) mutable {
                     target()->Call(*second, [](absl::Status) {});
                     std::move(done)(std::move(s));
                   });
    return;
  }
  target()->Call(request, std::move(done));
}

void FaultyTransport::WaitForLateCalls() {
  std::vector<std::thread> late;
  {
    absl::MutexLock lock(&mu_);
    late.swap(late_);
  }
  for (std::thread& t : late) t.join();
}

}  // namespace dtx::testing
