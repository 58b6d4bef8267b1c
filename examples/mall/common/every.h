// A task run on its own thread every so often, until the object is destroyed.
#ifndef MALL_COMMON_EVERY_H_
#define MALL_COMMON_EVERY_H_

#include <functional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace mall {

class Every {
 public:
  // Runs `task` every `period` (the first time one period from now).
  Every(absl::Duration period, std::function<void()> task)
      : thread_([this, period, task = std::move(task)] {
          while (!stop_.WaitForNotificationWithTimeout(period)) task();
        }) {}
  // Waits for a run in progress to end.
  ~Every() {
    stop_.Notify();
    thread_.join();
  }
  Every(const Every&) = delete;
  Every& operator=(const Every&) = delete;

 private:
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace mall

#endif  // MALL_COMMON_EVERY_H_
