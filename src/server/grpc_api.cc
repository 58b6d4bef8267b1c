#include "server/grpc_api.h"

#include "dtx/gid.h"
#include "dtx/grpc/grpc_branch.h"
#include "dtx/result.h"
#include "grpc/dtm_request.h"
#include "internal/remote_answer.h"

namespace dtx {

grpc::Status DtmGrpcService::Admit(const grpc::ServerContext* context) const {
  if (tokens_ == nullptr || !tokens_->enabled()) return grpc::Status::OK;
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  if (it != metadata.end() &&
      tokens_->Admits(std::string_view(it->second.data(), it->second.size()))) {
    return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "missing or unknown bearer token");
}

grpc::Status DtmGrpcService::NewGid(grpc::ServerContext* context,
                                    const google::protobuf::Empty*,
                                    dtmgimp::DtmGidReply* reply) {
  if (grpc::Status s = Admit(context); !s.ok()) return s;
  reply->set_gid(GidGenerator().Next());
  return grpc::Status::OK;
}

namespace {

// As over HTTP (internal::AsDtmAnswer), as a gRPC status.
grpc::Status AsDtmAnswer(const absl::Status& s) {
  return ToGrpcStatus(internal::AsDtmAnswer(s));
}

}  // namespace

grpc::Status DtmGrpcService::Submit(grpc::ServerContext* context,
                                    const dtmgimp::DtmRequest* request,
                                    google::protobuf::Empty*) {
  if (grpc::Status s = Admit(context); !s.ok()) return s;
  absl::StatusOr<TransGlobal> global = internal::TransGlobalFromDtmRequest(*request);
  if (!global.ok()) return ToGrpcStatus(global.status());
  return AsDtmAnswer(coordinator_->Submit(*global));
}

grpc::Status DtmGrpcService::Prepare(grpc::ServerContext* context,
                                     const dtmgimp::DtmRequest* request,
                                     google::protobuf::Empty*) {
  if (grpc::Status s = Admit(context); !s.ok()) return s;
  absl::StatusOr<TransGlobal> global = internal::TransGlobalFromDtmRequest(*request);
  if (!global.ok()) return ToGrpcStatus(global.status());
  return AsDtmAnswer(coordinator_->Prepare(*global));
}

grpc::Status DtmGrpcService::Abort(grpc::ServerContext* context,
                                   const dtmgimp::DtmRequest* request,
                                   google::protobuf::Empty*) {
  if (grpc::Status s = Admit(context); !s.ok()) return s;
  absl::StatusOr<TransGlobal> global = internal::TransGlobalFromDtmRequest(*request);
  if (!global.ok()) return ToGrpcStatus(global.status());
  return AsDtmAnswer(coordinator_->Abort(*global));
}

grpc::Status DtmGrpcService::RegisterBranch(grpc::ServerContext* context,
                                            const dtmgimp::DtmBranchRequest* request,
                                            google::protobuf::Empty*) {
  if (grpc::Status s = Admit(context); !s.ok()) return s;
  absl::StatusOr<TccBranch> branch = internal::TccBranchFromDtmBranchRequest(*request);
  if (!branch.ok()) return ToGrpcStatus(branch.status());
  return ToGrpcStatus(coordinator_->RegisterBranch(*branch));
}

grpc::Status DtmGrpcService::Query(grpc::ServerContext* context,
                                   const dtmgimp::DtxQueryRequest* request,
                                   dtmgimp::DtxQueryReply* reply) {
  if (grpc::Status s = Admit(context); !s.ok()) return s;
  absl::StatusOr<TransactionState> state = coordinator_->Query(request->gid());
  if (absl::IsNotFound(state.status())) {
    reply->set_json(R"({"transaction":null,"branches":[]})");
    return grpc::Status::OK;
  }
  if (!state.ok()) return ToGrpcStatus(state.status());
  if (tokens_ == nullptr || !tokens_->enabled()) WithholdHeaderValues(state->global);
  reply->set_json(QueryResultToJson(state->global, state->branches));
  return grpc::Status::OK;
}

}  // namespace dtx
