#include "server/grpc_api.h"

#include <nlohmann/json.hpp>

#include "dtx/gid.h"
#include "dtx/grpc/grpc_branch.h"
#include "dtx/result.h"

namespace dtx {

absl::StatusOr<TransGlobal> TransGlobalFromDtmRequest(const dtmgimp::DtmRequest& request) {
  // Everything but the binary payloads goes through the JSON reader, so that both APIs
  // validate alike.
  nlohmann::json doc = {{"gid", request.gid()},
                        {"trans_type", request.transtype()},
                        {"protocol", "grpc"},
                        {"custom_data", request.customeddata()},
                        {"query_prepared", request.queryprepared()}};
  if (!request.steps().empty()) {
    nlohmann::json steps =
        nlohmann::json::parse(request.steps(), nullptr, /*allow_exceptions=*/false);
    if (steps.is_discarded()) return absl::InvalidArgumentError("Steps is not JSON");
    doc["steps"] = std::move(steps);
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

grpc::Status DtmGrpcService::NewGid(grpc::ServerContext*, const google::protobuf::Empty*,
                                    dtmgimp::DtmGidReply* reply) {
  reply->set_gid(GidGenerator().Next());
  return grpc::Status::OK;
}

grpc::Status DtmGrpcService::Submit(grpc::ServerContext*, const dtmgimp::DtmRequest* request,
                                    google::protobuf::Empty*) {
  absl::StatusOr<TransGlobal> global = TransGlobalFromDtmRequest(*request);
  if (!global.ok()) return ToGrpcStatus(global.status());
  absl::Status s = coordinator_->Submit(*global);
  return ToGrpcStatus(IsOngoing(s) ? FailureError(std::string(s.message())) : s);
}

grpc::Status DtmGrpcService::Prepare(grpc::ServerContext*, const dtmgimp::DtmRequest*,
                                     google::protobuf::Empty*) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      "prepare: dtx drives sagas only so far (tcc, msg and xa are planned)");
}

grpc::Status DtmGrpcService::Abort(grpc::ServerContext*, const dtmgimp::DtmRequest*,
                                   google::protobuf::Empty*) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      "abort: dtx drives sagas only so far (tcc, msg and xa are planned)");
}

grpc::Status DtmGrpcService::RegisterBranch(grpc::ServerContext*,
                                            const dtmgimp::DtmBranchRequest*,
                                            google::protobuf::Empty*) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      "registerBranch: dtx drives sagas only so far (tcc is planned)");
}

}  // namespace dtx
