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

namespace {

// The W3C trace context of a submit or prepare, from its metadata.
void TakeTraceMetadata(const grpc::ServerContext& context, TransGlobal& global) {
  const auto& metadata = context.client_metadata();
  auto parent = metadata.find("traceparent");
  if (parent == metadata.end()) return;
  global.options.traceparent.assign(parent->second.data(), parent->second.size());
  auto state = metadata.find("tracestate");
  global.options.tracestate =
      state == metadata.end() ? std::string()
                              : std::string(state->second.data(), state->second.size());
}

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "OTHER";
  }
}

// As over HTTP (internal::AsDtmAnswer), as a gRPC status.
grpc::Status AsDtmAnswer(const absl::Status& s) {
  return ToGrpcStatus(internal::AsDtmAnswer(s));
}

}  // namespace

grpc::Status DtmGrpcService::Counted(std::string_view method, grpc::Status answer) const {
  if (metrics_ != nullptr)
    metrics_->Answered("grpc", method, CodeName(answer.error_code()));
  return answer;
}

grpc::Status DtmGrpcService::NewGid(grpc::ServerContext* context,
                                    const google::protobuf::Empty*,
                                    dtmgimp::DtmGidReply* reply) {
  return Counted("NewGid", [&]() -> grpc::Status {
    if (grpc::Status s = Admit(context); !s.ok()) return s;
    reply->set_gid(GidGenerator().Next());
    return grpc::Status::OK;
  }());
}

grpc::Status DtmGrpcService::Submit(grpc::ServerContext* context,
                                    const dtmgimp::DtmRequest* request,
                                    google::protobuf::Empty*) {
  return Counted("Submit", [&]() -> grpc::Status {
    if (grpc::Status s = Admit(context); !s.ok()) return s;
    absl::StatusOr<TransGlobal> global = internal::TransGlobalFromDtmRequest(*request);
    if (!global.ok()) return ToGrpcStatus(global.status());
    TakeTraceMetadata(*context, *global);
    return AsDtmAnswer(coordinator_->Submit(*global));
  }());
}

grpc::Status DtmGrpcService::Prepare(grpc::ServerContext* context,
                                     const dtmgimp::DtmRequest* request,
                                     google::protobuf::Empty*) {
  return Counted("Prepare", [&]() -> grpc::Status {
    if (grpc::Status s = Admit(context); !s.ok()) return s;
    absl::StatusOr<TransGlobal> global = internal::TransGlobalFromDtmRequest(*request);
    if (!global.ok()) return ToGrpcStatus(global.status());
    TakeTraceMetadata(*context, *global);
    return AsDtmAnswer(coordinator_->Prepare(*global));
  }());
}

grpc::Status DtmGrpcService::Abort(grpc::ServerContext* context,
                                   const dtmgimp::DtmRequest* request,
                                   google::protobuf::Empty*) {
  return Counted("Abort", [&]() -> grpc::Status {
    if (grpc::Status s = Admit(context); !s.ok()) return s;
    absl::StatusOr<TransGlobal> global = internal::TransGlobalFromDtmRequest(*request);
    if (!global.ok()) return ToGrpcStatus(global.status());
    return AsDtmAnswer(coordinator_->Abort(*global));
  }());
}

grpc::Status DtmGrpcService::RegisterBranch(grpc::ServerContext* context,
                                            const dtmgimp::DtmBranchRequest* request,
                                            google::protobuf::Empty*) {
  return Counted("RegisterBranch", [&]() -> grpc::Status {
    if (grpc::Status s = Admit(context); !s.ok()) return s;
    absl::StatusOr<TccBranch> branch = internal::TccBranchFromDtmBranchRequest(*request);
    if (!branch.ok()) return ToGrpcStatus(branch.status());
    return ToGrpcStatus(coordinator_->RegisterBranch(*branch));
  }());
}

grpc::Status DtmGrpcService::Query(grpc::ServerContext* context,
                                   const dtmgimp::DtxQueryRequest* request,
                                   dtmgimp::DtxQueryReply* reply) {
  return Counted("Query", [&]() -> grpc::Status {
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
  }());
}

}  // namespace dtx
