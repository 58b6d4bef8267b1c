// The coordinator's source of time, injectable so tests never sleep through backoffs.
#ifndef DTX_CLOCK_H_
#define DTX_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace dtx {

// Thread-safe. Every timestamp the coordinator stores or compares (create_time,
// next_cron_time, timeout_to_fail) comes from a Clock.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // The wall clock. Never destroyed.
  static Clock* Real();
};

// A clock that moves only when told to. Thread-safe.
class ManualClock : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000))
      : now_(start) {}

  absl::Time Now() const override;
  void Advance(absl::Duration d);
  void Set(absl::Time t);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dtx

#endif  // DTX_CLOCK_H_
