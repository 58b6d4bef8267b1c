#include "internal/call_limiter.h"

namespace dtx::internal {
namespace {

// The starts this thread is running from Done(): a start whose call ends inside it
// calls Done() again, and the next start is queued here instead of nesting deeper.
thread_local std::vector<CallLimiter::Start>* draining = nullptr;

}  // namespace

void CallLimiter::Run(Start start) {
  if (limit_ > 0) {
    absl::MutexLock lock(&mu_);
    if (running_ >= limit_) {
      waiting_.push_back(std::move(start));
      return;
    }
    ++running_;
  }
  std::move(start)();
}

void CallLimiter::Done() {
  if (limit_ <= 0) return;
  Start next;
  {
    absl::MutexLock lock(&mu_);
    if (waiting_.empty()) {
      --running_;
      return;
    }
    next = std::move(waiting_.front());  // takes over the slot of the call that ended
    waiting_.pop_front();
  }
  if (draining != nullptr) {
    draining->push_back(std::move(next));
    return;
  }
  std::vector<Start> queue;
  queue.push_back(std::move(next));
  draining = &queue;
  for (size_t i = 0; i < queue.size(); ++i) {
    Start start = std::move(queue[i]);
    std::move(start)();
  }
  draining = nullptr;
}

int CallLimiter::running() {
  absl::MutexLock lock(&mu_);
  return running_;
}

int CallLimiter::waiting() {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(waiting_.size());
}

}  // namespace dtx::internal
