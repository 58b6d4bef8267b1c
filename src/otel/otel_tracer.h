// A dtx::Tracer over OpenTelemetry (dtxd's --otlp-endpoint, dtx_bench --tracing on):
// spans exported over OTLP/HTTP by a batch processor. The W3C trace context is read and
// written by OpenTelemetry's own propagator.
#ifndef DTX_OTEL_OTEL_TRACER_H_
#define DTX_OTEL_OTEL_TRACER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "dtx/log.h"
#include "dtx/tracing.h"

namespace dtx {

struct OtelTracerOptions {
  // Where spans are POSTed, e.g. http://127.0.0.1:4318/v1/traces.
  std::string endpoint;
  // "http/protobuf" (OTLP's default) or "http/json".
  std::string protocol = "http/protobuf";
  std::string service_name = "dtxd";
  // Share of new traces (no sampled parent) whose spans are recorded and exported,
  // in [0, 1]; a submitter's trace is followed as its traceparent's flag says
  // (parent-based sampling). Spans not sampled cost little, and their context still
  // reaches the branches. Default: 1, every trace.
  double sample_ratio = 1;
  std::string version;
  // Export errors of the OpenTelemetry SDK go here, at warn ("otel" records). Not
  // owned; must outlive the tracer.
  Logger* logger = nullptr;
};

// Thread-safe.
class OtelTracer : public Tracer {
 public:
  // kInvalidArgument for an endpoint that is not http(s)://, another protocol, or a
  // sample_ratio outside [0, 1].
  static absl::StatusOr<std::unique_ptr<OtelTracer>> Create(
      const OtelTracerOptions& options);
  ~OtelTracer() override;  // Shutdown()

  std::unique_ptr<Span> Start(std::string_view name, const TraceContext& parent,
                              SpanKind kind,
                              std::span<const LogField> attributes) override;

  // Exports what is still queued (waiting up to a few seconds) and stops exporting.
  void Shutdown();

  class Impl;

 private:
  explicit OtelTracer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dtx

#endif  // DTX_OTEL_OTEL_TRACER_H_
