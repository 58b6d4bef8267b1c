#include "server/api_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <limits>
#include <sstream>

namespace dtx {
namespace {

prometheus::MetricType TypeOf(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return prometheus::MetricType::Counter;
    case MetricType::kGauge:
      return prometheus::MetricType::Gauge;
    case MetricType::kHistogram:
      return prometheus::MetricType::Histogram;
  }
  return prometheus::MetricType::Untyped;
}

prometheus::MetricFamily FamilyOf(const Metric& m) {
  prometheus::MetricFamily family;
  family.name = m.name;
  family.help = m.help;
  family.type = TypeOf(m.type);
  for (const MetricSample& s : m.samples) {
    prometheus::ClientMetric& c = family.metric.emplace_back();
    for (const auto& [name, value] : s.labels) c.label.push_back({name, value});
    switch (m.type) {
      case MetricType::kCounter:
        c.counter.value = s.value;
        break;
      case MetricType::kGauge:
        c.gauge.value = s.value;
        break;
      case MetricType::kHistogram:
        c.histogram.sample_count = s.count;
        c.histogram.sample_sum = s.sum;
        for (size_t i = 0; i < s.bucket_bounds.size() && i < s.bucket_counts.size();
             ++i) {
          c.histogram.bucket.push_back({s.bucket_counts[i], s.bucket_bounds[i]});
        }
        c.histogram.bucket.push_back({s.count, std::numeric_limits<double>::infinity()});
        break;
    }
  }
  return family;
}

}  // namespace

ApiMetrics::ApiMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(&prometheus::BuildCounter()
                     .Name("dtx_api_requests_total")
                     .Help("Requests dtxd answered, by api (http, grpc), route (a "
                           "path of the API, or other) and code (HTTP status or gRPC "
                           "code).")
                     .Register(*registry_)) {}

ApiMetrics::~ApiMetrics() = default;

void ApiMetrics::Answered(std::string_view api, std::string_view route,
                          std::string_view code) {
  requests_
      ->Add({{"api", std::string(api)},
             {"route", std::string(route)},
             {"code", std::string(code)}})
      .Increment();
}

std::string ApiMetrics::Text(const std::vector<Metric>& metrics) const {
  std::vector<prometheus::MetricFamily> families;
  families.reserve(metrics.size() + 1);
  for (const Metric& m : metrics) families.push_back(FamilyOf(m));
  for (prometheus::MetricFamily& f : registry_->Collect())
    families.push_back(std::move(f));
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace dtx
