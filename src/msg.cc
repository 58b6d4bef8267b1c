#include "dtx/msg.h"

#include <nlohmann/json.hpp>

namespace dtx {

Msg::Msg(Submitter* submitter, std::string gid) : submitter_(submitter) {
  global_.gid = std::move(gid);
  global_.trans_type = std::string(kTransTypeMsg);
}

Msg& Msg::Add(std::string action, std::string payload) {
  global_.steps.push_back({std::move(action), ""});
  global_.payloads.push_back(std::move(payload));
  return *this;
}
Msg& Msg::EnableConcurrent() {
  concurrent_ = true;
  return *this;
}
Msg& Msg::Delay(absl::Duration d) {
  delay_ = d;
  return *this;
}
Msg& Msg::WaitResult(bool wait) {
  global_.options.wait_result = wait;
  return *this;
}
Msg& Msg::TimeoutToFail(absl::Duration d) {
  global_.options.timeout_to_fail = d;
  return *this;
}
Msg& Msg::RequestTimeout(absl::Duration d) {
  global_.options.request_timeout = d;
  return *this;
}
Msg& Msg::RetryInterval(absl::Duration d) {
  global_.options.retry_interval = d;
  return *this;
}
Msg& Msg::BranchHeader(std::string name, std::string value) {
  global_.options.branch_headers[std::move(name)] = std::move(value);
  return *this;
}

Msg& Msg::Traceparent(std::string traceparent, std::string tracestate) {
  global_.options.traceparent = std::move(traceparent);
  global_.options.tracestate = std::move(tracestate);
  return *this;
}
Msg& Msg::Protocol(std::string protocol) {
  global_.protocol = std::move(protocol);
  return *this;
}

TransGlobal Msg::Build() const {
  TransGlobal g = global_;
  nlohmann::json custom = nlohmann::json::object();
  if (concurrent_) custom["concurrent"] = true;
  if (delay_ > absl::ZeroDuration()) {
    custom["delay"] = absl::ToInt64Seconds(absl::Ceil(delay_, absl::Seconds(1)));
  }
  if (!custom.empty()) g.custom_data = custom.dump();
  return g;
}

absl::Status Msg::Prepare(std::string query_prepared) {
  global_.query_prepared = std::move(query_prepared);
  return submitter_->Prepare(Build());
}

absl::Status Msg::Submit() { return submitter_->Submit(Build()); }

absl::Status Msg::Abort() { return submitter_->Abort(Build()); }

}  // namespace dtx
