#include "server/grpc_api.h"

#include "dtx/gid.h"
#include "dtx/grpc/grpc_branch.h"
#include "dtx/result.h"
#include "grpc/dtm_request.h"

namespace dtx {

grpc::Status DtmGrpcService::NewGid(grpc::ServerContext*, const google::protobuf::Empty*,
                                    dtmgimp::DtmGidReply* reply) {
  reply->set_gid(GidGenerator().Next());
  return grpc::Status::OK;
}

grpc::Status DtmGrpcService::Submit(grpc::ServerContext*,
                                    const dtmgimp::DtmRequest* request,
                                    google::protobuf::Empty*) {
  absl::StatusOr<TransGlobal> global = internal::TransGlobalFromDtmRequest(*request);
  if (!global.ok()) return ToGrpcStatus(global.status());
  absl::Status s = coordinator_->Submit(*global);
  return ToGrpcStatus(IsOngoing(s) ? FailureError(std::string(s.message())) : s);
}

grpc::Status DtmGrpcService::Prepare(grpc::ServerContext*, const dtmgimp::DtmRequest*,
                                     google::protobuf::Empty*) {
  return grpc::Status(
      grpc::StatusCode::UNIMPLEMENTED,
      "prepare: dtx drives sagas only so far (tcc, msg and xa are planned)");
}

grpc::Status DtmGrpcService::Abort(grpc::ServerContext*, const dtmgimp::DtmRequest*,
                                   google::protobuf::Empty*) {
  return grpc::Status(
      grpc::StatusCode::UNIMPLEMENTED,
      "abort: dtx drives sagas only so far (tcc, msg and xa are planned)");
}

grpc::Status DtmGrpcService::RegisterBranch(grpc::ServerContext*,
                                            const dtmgimp::DtmBranchRequest*,
                                            google::protobuf::Empty*) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      "registerBranch: dtx drives sagas only so far (tcc is planned)");
}

}  // namespace dtx
