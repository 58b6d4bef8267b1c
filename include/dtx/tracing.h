// Tracing: a transaction runs under the W3C trace context (traceparent, tracestate) its
// submitter gave (TransOptions::traceparent), stored with it and sent with every branch
// call, retries after a restart included, so that a branch's work joins the
// submitter's trace. With a dtx::Tracer (CoordinatorOptions::tracer) the coordinator
// also records spans of its own: "dtx submit" (child of the submitter's context),
// "dtx pass" for each pass (child of the submit) and "dtx call <op>" for each branch
// call (child of its pass, whose context the branch then receives). The core knows no
// tracing library: dtxd implements Tracer over OpenTelemetry (--otlp-endpoint).
#ifndef DTX_TRACING_H_
#define DTX_TRACING_H_

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "dtx/log.h"

namespace dtx {

// Whether `traceparent` is a W3C traceparent dtx passes on: version 00, 32 hex digits
// of trace id and 16 of parent id (neither all zeros), 2 of flags, lowercase. An
// invalid one is dropped (the W3C rule), never refused.
bool IsValidTraceparent(std::string_view traceparent);
// Whether `tracestate` is one dtx passes on: at most 512 bytes (what W3C asks every
// vendor to pass on) of printable ASCII, so it is safe as a header or metadata value.
// An empty one is valid. A traceparent's invalid tracestate is dropped alone.
bool IsValidTracestate(std::string_view tracestate);

struct TraceContext {
  std::string traceparent;  // empty: none
  std::string tracestate;
};

enum class SpanKind { kInternal, kClient, kServer };

// One span, ended once by End. Not thread-safe; used by one thread at a time.
class Span {
 public:
  virtual ~Span() = default;
  // The context a child of this span (a branch call's receiver) is given.
  virtual TraceContext context() const = 0;
  virtual void SetAttribute(std::string_view key, std::string_view value) = 0;
  // Marks the span failed, with a description.
  virtual void SetError(std::string_view description) = 0;
  virtual void End() = 0;
};

// Thread-safe.
class Tracer {
 public:
  virtual ~Tracer() = default;
  // A span child of `parent` (a new trace when parent.traceparent is empty or
  // invalid), started now, with `attributes`.
  virtual std::unique_ptr<Span> Start(std::string_view name, const TraceContext& parent,
                                      SpanKind kind,
                                      std::span<const LogField> attributes) = 0;
};

}  // namespace dtx

#endif  // DTX_TRACING_H_
