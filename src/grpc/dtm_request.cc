#include "grpc/dtm_request.h"

#include <nlohmann/json.hpp>

#include "internal/json_read.h"

namespace dtx::internal {
namespace {

int64_t WholeSeconds(absl::Duration d) {
  return absl::ToInt64Seconds(absl::Ceil(d, absl::Seconds(1)));
}

}  // namespace

absl::StatusOr<TransGlobal> TransGlobalFromDtmRequest(
    const dtmgimp::DtmRequest& request) {
  // Everything but the binary payloads goes through the JSON reader, so that both APIs
  // validate alike.
  nlohmann::json doc = {{"gid", request.gid()},
                        {"trans_type", request.transtype()},
                        {"protocol", request.reqextra().contains("protocol")
                                         ? request.reqextra().at("protocol")
                                         : std::string("grpc")},
                        {"custom_data", request.customeddata()},
                        {"query_prepared", request.queryprepared()},
                        {"rollback_reason", request.rollbackreason()}};
  if (!request.steps().empty()) {
    // Nested no deeper than the submit body's own limit allows below "steps".
    absl::StatusOr<nlohmann::json> steps =
        ReadJson(request.steps(), "Steps", kMaxJsonDepth - 1);
    if (!steps.ok()) return steps.status();
    doc["steps"] = *std::move(steps);
  }
  const dtmgimp::DtmTransOptions& o = request.transoptions();
  doc["wait_result"] = o.waitresult();
  if (o.timeouttofail() > 0) doc["timeout_to_fail"] = o.timeouttofail();
  if (o.retryinterval() > 0) doc["retry_interval"] = o.retryinterval();
  if (o.requesttimeout() > 0) doc["request_timeout"] = o.requesttimeout();
  if (o.retrylimit() > 0) doc["retry_limit"] = o.retrylimit();
  if (!o.branchheaders().empty()) {
    doc["branch_headers"] = std::map<std::string, std::string>(o.branchheaders().begin(),
                                                               o.branchheaders().end());
  }
  absl::StatusOr<TransGlobal> global = TransGlobalFromJson(
      doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (!global.ok()) return global.status();
  global->payloads.assign(request.binpayloads().begin(), request.binpayloads().end());
  if (!global->payloads.empty() && global->payloads.size() != global->steps.size()) {
    return absl::InvalidArgumentError("BinPayloads and Steps differ in length");
  }
  return global;
}

dtmgimp::DtmRequest DtmRequestFromTransGlobal(const TransGlobal& g) {
  dtmgimp::DtmRequest r;
  r.set_gid(g.gid);
  r.set_transtype(g.trans_type);
  r.set_customeddata(g.custom_data);
  r.set_queryprepared(g.query_prepared);
  r.set_rollbackreason(g.rollback_reason);
  if (g.protocol != "grpc") (*r.mutable_reqextra())["protocol"] = g.protocol;
  nlohmann::json steps = nlohmann::json::array();
  for (const SagaStep& s : g.steps) {
    steps.push_back({{"action", s.action}, {"compensate", s.compensate}});
  }
  r.set_steps(steps.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  for (const std::string& p : g.payloads) r.add_binpayloads(p);
  dtmgimp::DtmTransOptions* o = r.mutable_transoptions();
  o->set_waitresult(g.options.wait_result);
  o->set_timeouttofail(WholeSeconds(g.options.timeout_to_fail));
  o->set_retryinterval(WholeSeconds(g.options.retry_interval));
  o->set_requesttimeout(WholeSeconds(g.options.request_timeout));
  o->set_retrylimit(g.options.retry_limit);
  o->mutable_branchheaders()->insert(g.options.branch_headers.begin(),
                                     g.options.branch_headers.end());
  return r;
}

absl::StatusOr<TccBranch> TccBranchFromDtmBranchRequest(
    const dtmgimp::DtmBranchRequest& request) {
  // Through the JSON reader, as over HTTP, but for the data: bytes, sent as they are.
  auto field = [&](const char* key) {
    auto it = request.data().find(key);
    return it == request.data().end() ? std::string() : it->second;
  };
  nlohmann::json doc = {{"gid", request.gid()},
                        {"trans_type", request.transtype()},
                        {"branch_id", request.branchid()},
                        {"confirm", field("confirm")},
                        {"cancel", field("cancel")}};
  absl::StatusOr<TccBranch> branch = TccBranchFromJson(
      doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (!branch.ok()) return branch.status();
  branch->data = request.busipayload();
  return branch;
}

dtmgimp::DtmBranchRequest DtmBranchRequestFromTccBranch(const TccBranch& b) {
  dtmgimp::DtmBranchRequest r;
  r.set_gid(b.gid);
  r.set_transtype(std::string(kTransTypeTcc));
  r.set_branchid(b.branch_id);
  r.set_busipayload(b.data);
  (*r.mutable_data())["confirm"] = b.confirm;
  (*r.mutable_data())["cancel"] = b.cancel;
  return r;
}

}  // namespace dtx::internal
