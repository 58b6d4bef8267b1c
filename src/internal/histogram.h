// A histogram of fixed bucket bounds for dtx::Metric snapshots. Observe is a handful
// of relaxed atomic adds, no lock: cheap enough for every branch call and store write.
#ifndef DTX_INTERNAL_HISTOGRAM_H_
#define DTX_INTERNAL_HISTOGRAM_H_

#include <atomic>
#include <memory>
#include <vector>

#include "dtx/metrics.h"

namespace dtx::internal {

// Thread-safe.
class Histogram {
 public:
  // `bounds`: upper bounds, ascending.
  explicit Histogram(std::vector<double> bounds);

  void Observe(double value);
  // Sets the bucket fields of `sample` (cumulative counts, count, sum). Observations
  // made meanwhile may show in some fields and not yet in others.
  void Snapshot(MetricSample& sample) const;

  // 0.5 ms to 10 s, for latencies in seconds.
  static std::vector<double> SecondsBounds();
  // 1, 2, 4 .. `max`, for sizes.
  static std::vector<double> PowersOfTwo(double max);

 private:
  const std::vector<double> bounds_;
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, +Inf last
  std::atomic<double> sum_{0};
};

}  // namespace dtx::internal

#endif  // DTX_INTERNAL_HISTOGRAM_H_
