#include "http/wait_for.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include "absl/time/clock.h"

namespace dtx::internal {

bool WaitFor(int fd, short events, absl::Time deadline) {
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd p{fd, events, 0};
    // Rounded up: a wait shorter than a millisecond must not become poll(0), a spin.
    const int n = poll(&p, 1,
                       static_cast<int>(std::min<int64_t>(
                           absl::ToInt64Milliseconds(left) + 1, 1 << 30)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace dtx::internal
