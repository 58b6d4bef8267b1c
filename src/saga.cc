#include "dtx/saga.h"

#include <nlohmann/json.hpp>

namespace dtx {

Saga::Saga(Submitter* submitter, std::string gid) : submitter_(submitter) {
  global_.gid = std::move(gid);
  global_.trans_type = std::string(kTransTypeSaga);
}

Saga& Saga::Add(std::string action, std::string compensate, std::string payload) {
  global_.steps.push_back({std::move(action), std::move(compensate)});
  global_.payloads.push_back(std::move(payload));
  return *this;
}

Saga& Saga::EnableConcurrent() {
  concurrent_ = true;
  return *this;
}

Saga& Saga::AddBranchOrder(int step, std::vector<int> predecessors) {
  std::vector<int>& preds = orders_[step];
  preds.insert(preds.end(), predecessors.begin(), predecessors.end());
  return *this;
}

Saga& Saga::WaitResult(bool wait) {
  global_.options.wait_result = wait;
  return *this;
}
Saga& Saga::TimeoutToFail(absl::Duration d) {
  global_.options.timeout_to_fail = d;
  return *this;
}
Saga& Saga::RequestTimeout(absl::Duration d) {
  global_.options.request_timeout = d;
  return *this;
}
Saga& Saga::RetryInterval(absl::Duration d) {
  global_.options.retry_interval = d;
  return *this;
}
Saga& Saga::RetryLimit(int64_t n) {
  global_.options.retry_limit = n;
  return *this;
}
Saga& Saga::BranchHeader(std::string name, std::string value) {
  global_.options.branch_headers[std::move(name)] = std::move(value);
  return *this;
}

Saga& Saga::Traceparent(std::string traceparent, std::string tracestate) {
  global_.options.traceparent = std::move(traceparent);
  global_.options.tracestate = std::move(tracestate);
  return *this;
}
Saga& Saga::Protocol(std::string protocol) {
  global_.protocol = std::move(protocol);
  return *this;
}

TransGlobal Saga::Build() const {
  TransGlobal g = global_;
  if (concurrent_ || !orders_.empty()) {
    nlohmann::json custom = {{"concurrent", concurrent_}};
    nlohmann::json orders = nlohmann::json::object();
    for (const auto& [step, preds] : orders_) orders[std::to_string(step)] = preds;
    custom["orders"] = std::move(orders);
    g.custom_data = custom.dump();
  }
  return g;
}

absl::Status Saga::Submit() { return submitter_->Submit(Build()); }

absl::StatusOr<TransGlobal> SagaFromJson(std::string_view json) {
  absl::StatusOr<TransGlobal> g = TransGlobalFromJson(json);
  if (g.ok() && g->trans_type != kTransTypeSaga) {
    return absl::InvalidArgumentError("not a saga: trans_type is '" + g->trans_type +
                                      "'");
  }
  return g;
}

}  // namespace dtx
