#include "internal/caller_runs.h"

#include <utility>

namespace dtx::internal {
namespace {

thread_local CallerRuns* current = nullptr;

}  // namespace

CallerRuns::CallerRuns() : outer_(current) { current = this; }

CallerRuns::~CallerRuns() {
  RunQueued();
  current = outer_;
}

bool CallerRuns::Available() { return current != nullptr && !current->queued_; }

bool CallerRuns::Offer(Work& work) {
  if (!Available()) return false;
  current->queued_ = std::move(work);
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
