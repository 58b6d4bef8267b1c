#include "internal/log_limiter.h"

#include <utility>

#include "absl/time/clock.h"

namespace dtx::internal {

bool LogLimiter::Admit(const std::string& kind, int64_t* suppressed) {
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  if (windows_.size() > 10000) windows_.clear();  // bounded, whatever the kinds
  Window& w = windows_[kind];
  if (now - w.start >= window_) {
    w.start = now;
    w.written = 0;
  }
  if (w.written >= burst_) {
    ++w.suppressed;
    return false;
  }
  ++w.written;
  *suppressed = std::exchange(w.suppressed, 0);
  return true;
}

}  // namespace dtx::internal
