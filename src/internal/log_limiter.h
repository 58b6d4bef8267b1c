// Rate limit of repeated log records: at most `burst` records of one kind per
// `window`; the first one written after others were dropped says how many.
#ifndef DTX_INTERNAL_LOG_LIMITER_H_
#define DTX_INTERNAL_LOG_LIMITER_H_

#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace dtx::internal {

// Thread-safe.
class LogLimiter {
 public:
  explicit LogLimiter(int64_t burst = 10, absl::Duration window = absl::Seconds(10))
      : burst_(burst), window_(window) {}

  // Whether a record of `kind` may be written now; *suppressed: how many of that kind
  // were dropped since the last one written.
  bool Admit(const std::string& kind, int64_t* suppressed);

 private:
  struct Window {
    absl::Time start = absl::InfinitePast();
    int64_t written = 0;
    int64_t suppressed = 0;
  };
  const int64_t burst_;
  const absl::Duration window_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Window> windows_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dtx::internal

#endif  // DTX_INTERNAL_LOG_LIMITER_H_
