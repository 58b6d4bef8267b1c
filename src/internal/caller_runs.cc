#include "internal/caller_runs.h"

#include <utility>

namespace dtx::internal {

bool CallerRuns::Free() const {
  return std::this_thread::get_id() == owner_ && !queued_;
}

bool CallerRuns::Offer(Work& work) {
  if (!Free()) return false;
  queued_ = std::move(work);
  return true;
}

void CallerRuns::RunQueued() {
  while (queued_) {
    Work work = std::move(queued_);
    queued_ = nullptr;
    std::move(work)();
  }
}

void CallerRuns::RunUntil(absl::Notification& done) {
  RunQueued();
  done.WaitForNotification();
}

}  // namespace dtx::internal
