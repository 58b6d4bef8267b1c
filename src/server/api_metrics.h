// dtxd's /metrics: a coordinator's metrics (Coordinator::Metrics) and the API's own
// request counts, as Prometheus text (prometheus-cpp's serializer).
#ifndef DTX_SERVER_API_METRICS_H_
#define DTX_SERVER_API_METRICS_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dtx/metrics.h"

namespace prometheus {
class Registry;
class Counter;
template <typename T>
class Family;
}  // namespace prometheus

namespace dtx {

// Thread-safe.
class ApiMetrics {
 public:
  ApiMetrics();
  ~ApiMetrics();

  // One request answered: `api` "http" or "grpc"; `route` a route's path or a gRPC
  // method (a fixed set, never a gid); `code` the HTTP status or gRPC code.
  void Answered(std::string_view api, std::string_view route, std::string_view code);

  // The Prometheus text exposition (format 0.0.4) of `metrics` and the request counts.
  std::string Text(const std::vector<Metric>& metrics) const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
};

}  // namespace dtx

#endif  // DTX_SERVER_API_METRICS_H_
