#include "internal/histogram.h"

#include <algorithm>

namespace dtx::internal {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(new std::atomic<uint64_t>[bounds_.size() + 1]()) {}

void Histogram::Observe(double value) {
  const size_t bucket =
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

void Histogram::Snapshot(MetricSample& sample) const {
  sample.bucket_bounds = bounds_;
  sample.bucket_counts.assign(bounds_.size(), 0);
  uint64_t running = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    sample.bucket_counts[i] = running;
  }
  sample.count = running + counts_[bounds_.size()].load(std::memory_order_relaxed);
  sample.sum = sum_.load(std::memory_order_relaxed);
}

std::vector<double> Histogram::SecondsBounds() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> Histogram::PowersOfTwo(double max) {
  std::vector<double> bounds;
  for (double b = 1; b <= max; b *= 2) bounds.push_back(b);
  return bounds;
}

}  // namespace dtx::internal
