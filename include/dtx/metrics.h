// dtx::Metric: a snapshot of a coordinator's numbers (Coordinator::Metrics), in the
// shape of Prometheus's and OpenTelemetry's data model, so that an embedder can hand
// them to whichever system it runs. dtxd serves them as Prometheus text at /metrics.
// Labels have few values each (a trans_type, an op, an outcome): never a gid or a URL.
// README, "Operating dtxd", lists every metric and what it means.
#ifndef DTX_METRICS_H_
#define DTX_METRICS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dtx {

enum class MetricType { kCounter, kGauge, kHistogram };

struct MetricSample {
  std::vector<std::pair<std::string, std::string>> labels;
  // A counter's or a gauge's value.
  double value = 0;
  // A histogram: upper bounds, ascending (+Inf not included), and per bound how many
  // observations were at most it (cumulative, as Prometheus buckets); `count` is all
  // of them (the +Inf bucket) and `sum` their sum.
  std::vector<double> bucket_bounds;
  std::vector<uint64_t> bucket_counts;
  uint64_t count = 0;
  double sum = 0;
};

struct Metric {
  std::string name;  // e.g. "dtx_branch_calls_total"; seconds for durations
  std::string help;
  MetricType type = MetricType::kCounter;
  std::vector<MetricSample> samples;
};

}  // namespace dtx

#endif  // DTX_METRICS_H_
