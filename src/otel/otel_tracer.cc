#include "otel/otel_tracer.h"

#include <chrono>
#include <map>

#include "absl/strings/match.h"
#include "opentelemetry/context/propagation/text_map_propagator.h"
#include "opentelemetry/exporters/otlp/otlp_http_exporter_factory.h"
#include "opentelemetry/exporters/otlp/otlp_http_exporter_options.h"
#include "opentelemetry/sdk/common/global_log_handler.h"
#include "opentelemetry/sdk/resource/resource.h"
#include "opentelemetry/sdk/trace/batch_span_processor_factory.h"
#include "opentelemetry/sdk/trace/batch_span_processor_options.h"
#include "opentelemetry/sdk/trace/samplers/parent_factory.h"
#include "opentelemetry/sdk/trace/samplers/trace_id_ratio_factory.h"
#include "opentelemetry/sdk/trace/tracer_provider.h"
#include "opentelemetry/sdk/trace/tracer_provider_factory.h"
#include "opentelemetry/trace/propagation/http_trace_context.h"
#include "opentelemetry/trace/tracer.h"

namespace dtx {
namespace {

namespace nostd = opentelemetry::nostd;
namespace otlp = opentelemetry::exporter::otlp;
namespace sdk_trace = opentelemetry::sdk::trace;
namespace trace_api = opentelemetry::trace;
namespace internal_log = opentelemetry::sdk::common::internal_log;

// A W3C trace context as the propagator reads and writes it.
class ContextCarrier : public opentelemetry::context::propagation::TextMapCarrier {
 public:
  ContextCarrier() = default;
  explicit ContextCarrier(const TraceContext& context) {
    if (!context.traceparent.empty()) values_["traceparent"] = context.traceparent;
    if (!context.tracestate.empty()) values_["tracestate"] = context.tracestate;
  }
  nostd::string_view Get(nostd::string_view key) const noexcept override {
    auto it = values_.find(std::string(key.data(), key.size()));
    return it == values_.end() ? nostd::string_view() : nostd::string_view(it->second);
  }
  void Set(nostd::string_view key, nostd::string_view value) noexcept override {
    values_[std::string(key.data(), key.size())] =
        std::string(value.data(), value.size());
  }
  TraceContext context() const {
    TraceContext c;
    if (auto it = values_.find("traceparent"); it != values_.end())
      c.traceparent = it->second;
    if (auto it = values_.find("tracestate"); it != values_.end())
      c.tracestate = it->second;
    return c;
  }

 private:
  std::map<std::string, std::string> values_;
};

// The SDK's own complaints (an unreachable collector) as dtx log records.
class SdkLog : public internal_log::LogHandler {
 public:
  explicit SdkLog(Logger* logger) : logger_(logger) {}
  void Handle(internal_log::LogLevel level, const char*, int, const char* msg,
              const opentelemetry::sdk::common::AttributeMap&) noexcept override {
    const LogLevel mapped = level == internal_log::LogLevel::Error     ? LogLevel::kError
                            : level == internal_log::LogLevel::Warning ? LogLevel::kWarn
                                                                       : LogLevel::kDebug;
    if (logger_ == nullptr || !logger_->Enabled(mapped)) return;
    const LogField fields[] = {{"message", msg != nullptr ? msg : ""}};
    logger_->Log(mapped, "otel", fields);
  }

 private:
  Logger* const logger_;
};

class OtelSpan : public Span {
 public:
  explicit OtelSpan(nostd::shared_ptr<trace_api::Span> span) : span_(std::move(span)) {}
  ~OtelSpan() override = default;

  TraceContext context() const override {
    ContextCarrier carrier;
    opentelemetry::context::Context empty;
    trace_api::propagation::HttpTraceContext().Inject(carrier,
                                                      trace_api::SetSpan(empty, span_));
    return carrier.context();
  }
  void SetAttribute(std::string_view key, std::string_view value) override {
    span_->SetAttribute(nostd::string_view(key.data(), key.size()),
                        nostd::string_view(value.data(), value.size()));
  }
  void SetError(std::string_view description) override {
    span_->SetStatus(trace_api::StatusCode::kError,
                     nostd::string_view(description.data(), description.size()));
  }
  void End() override { span_->End(); }

 private:
  nostd::shared_ptr<trace_api::Span> span_;
};

}  // namespace

class OtelTracer::Impl {
 public:
  std::unique_ptr<sdk_trace::TracerProvider> provider;
  nostd::shared_ptr<trace_api::Tracer> tracer;
  bool shut_down = false;
};

OtelTracer::OtelTracer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

OtelTracer::~OtelTracer() { Shutdown(); }

absl::StatusOr<std::unique_ptr<OtelTracer>> OtelTracer::Create(
    const OtelTracerOptions& options) {
  if (!absl::StartsWith(options.endpoint, "http://") &&
      !absl::StartsWith(options.endpoint, "https://")) {
    return absl::InvalidArgumentError(
        "the OTLP endpoint must be an http:// or https:// URL, e.g. "
        "http://127.0.0.1:4318/v1/traces");
  }
  otlp::OtlpHttpExporterOptions exporter_options;
  exporter_options.url = options.endpoint;
  if (options.protocol == "http/json") {
    exporter_options.content_type = otlp::HttpRequestContentType::kJson;
  } else if (options.protocol == "http/protobuf") {
    exporter_options.content_type = otlp::HttpRequestContentType::kBinary;
  } else {
    return absl::InvalidArgumentError(
        "the OTLP protocol must be http/protobuf or http/json");
  }
  if (!(options.sample_ratio >= 0 && options.sample_ratio <= 1)) {
    return absl::InvalidArgumentError("the sample ratio must be within [0, 1]");
  }
  exporter_options.timeout = std::chrono::seconds(5);
  internal_log::GlobalLogHandler::SetLogHandler(
      nostd::shared_ptr<internal_log::LogHandler>(new SdkLog(options.logger)));
  sdk_trace::BatchSpanProcessorOptions batch;
  batch.schedule_delay_millis = std::chrono::milliseconds(1000);
  auto impl = std::make_unique<Impl>();
  impl->provider = sdk_trace::TracerProviderFactory::Create(
      sdk_trace::BatchSpanProcessorFactory::Create(
          otlp::OtlpHttpExporterFactory::Create(exporter_options), batch),
      opentelemetry::sdk::resource::Resource::Create(
          {{"service.name", options.service_name}, {"service.version", options.version}}),
      sdk_trace::ParentBasedSamplerFactory::Create(std::shared_ptr<sdk_trace::Sampler>(
          sdk_trace::TraceIdRatioBasedSamplerFactory::Create(options.sample_ratio))));
  impl->tracer = impl->provider->GetTracer("dtx", options.version);
  return std::unique_ptr<OtelTracer>(new OtelTracer(std::move(impl)));
}

std::unique_ptr<Span> OtelTracer::Start(std::string_view name, const TraceContext& parent,
                                        SpanKind kind,
                                        std::span<const LogField> attributes) {
  trace_api::StartSpanOptions start;
  if (IsValidTraceparent(parent.traceparent)) {
    ContextCarrier carrier(parent);
    opentelemetry::context::Context empty;
    start.parent = trace_api::GetSpan(
                       trace_api::propagation::HttpTraceContext().Extract(carrier, empty))
                       ->GetContext();
  }
  start.kind = kind == SpanKind::kClient   ? trace_api::SpanKind::kClient
               : kind == SpanKind::kServer ? trace_api::SpanKind::kServer
                                           : trace_api::SpanKind::kInternal;
  nostd::shared_ptr<trace_api::Span> span =
      impl_->tracer->StartSpan(nostd::string_view(name.data(), name.size()), start);
  for (const LogField& a : attributes) {
    span->SetAttribute(nostd::string_view(a.key.data(), a.key.size()), a.value);
  }
  return std::make_unique<OtelSpan>(std::move(span));
}

void OtelTracer::Shutdown() {
  if (impl_->shut_down) return;
  impl_->shut_down = true;
  impl_->provider->ForceFlush(std::chrono::microseconds(3'000'000));
  impl_->provider->Shutdown();
}

}  // namespace dtx
