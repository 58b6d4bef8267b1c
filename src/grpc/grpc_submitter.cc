#include "dtx/grpc/grpc_submitter.h"

#include <grpcpp/create_channel.h>

#include <chrono>

#include "dtmgimp.grpc.pb.h"
#include "dtx/grpc/grpc_branch.h"
#include "dtx/result.h"
#include "dtx/tracing.h"
#include "grpc/channel_args.h"
#include "grpc/dtm_request.h"
#include "internal/remote_answer.h"

namespace dtx {

class GrpcSubmitter::Impl {
 public:
  explicit Impl(const GrpcSubmitterOptions& options)
      : timeout(options.timeout),
        authorization(options.auth_token.empty() ? "" : "Bearer " + options.auth_token),
        stub(dtmgimp::Dtm::NewStub(grpc::CreateCustomChannel(
            options.target,
            options.credentials != nullptr ? options.credentials
                                           : grpc::InsecureChannelCredentials(),
            internal::QuickReconnect()))) {}
  // Sets the deadline and the token of one call.
  void Prepare(grpc::ClientContext& context) const;

  const absl::Duration timeout;
  const std::string authorization;
  std::unique_ptr<dtmgimp::Dtm::Stub> stub;
};

GrpcSubmitter::GrpcSubmitter(GrpcSubmitterOptions options)
    : impl_(std::make_unique<Impl>(options)) {}

GrpcSubmitter::~GrpcSubmitter() = default;

namespace {

// The result vocabulary of a coordinator's gRPC answer (see GrpcSubmitter).
absl::Status AnswerOf(const grpc::Status& s) {
  if (s.error_code() == grpc::StatusCode::ABORTED) {
    return internal::FailureOrOngoing(s.error_message());
  }
  return FromGrpcStatus(s);
}

}  // namespace

void GrpcSubmitter::Impl::Prepare(grpc::ClientContext& context) const {
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::microseconds(absl::ToInt64Microseconds(timeout)));
  if (!authorization.empty()) context.AddMetadata("authorization", authorization);
}

namespace {

// A transaction's W3C trace context as metadata of its submit or prepare.
void AddTraceMetadata(grpc::ClientContext& context, const TransOptions& options) {
  if (!IsValidTraceparent(options.traceparent)) return;
  context.AddMetadata("traceparent", options.traceparent);
  if (!options.tracestate.empty()) context.AddMetadata("tracestate", options.tracestate);
}

}  // namespace

absl::Status GrpcSubmitter::Submit(const TransGlobal& global) {
  grpc::ClientContext context;
  impl_->Prepare(context);
  AddTraceMetadata(context, global.options);
  google::protobuf::Empty reply;
  return AnswerOf(
      impl_->stub->Submit(&context, internal::DtmRequestFromTransGlobal(global), &reply));
}

absl::Status GrpcSubmitter::Prepare(const TransGlobal& global) {
  grpc::ClientContext context;
  impl_->Prepare(context);
  AddTraceMetadata(context, global.options);
  google::protobuf::Empty reply;
  return AnswerOf(
      impl_->stub->Prepare(&context, internal::DtmRequestFromTransGlobal(global), &reply));
}

absl::Status GrpcSubmitter::RegisterBranch(const TccBranch& branch) {
  grpc::ClientContext context;
  impl_->Prepare(context);
  google::protobuf::Empty reply;
  return AnswerOf(impl_->stub->RegisterBranch(
      &context, internal::DtmBranchRequestFromTccBranch(branch), &reply));
}

absl::Status GrpcSubmitter::Abort(const TransGlobal& global) {
  grpc::ClientContext context;
  impl_->Prepare(context);
  google::protobuf::Empty reply;
  return AnswerOf(
      impl_->stub->Abort(&context, internal::DtmRequestFromTransGlobal(global), &reply));
}

absl::StatusOr<TransactionState> GrpcSubmitter::Query(std::string_view gid) {
  grpc::ClientContext context;
  impl_->Prepare(context);
  dtmgimp::DtxQueryRequest request;
  request.set_gid(std::string(gid));
  dtmgimp::DtxQueryReply reply;
  grpc::Status s = impl_->stub->Query(&context, request, &reply);
  if (!s.ok()) return AnswerOf(s);
  return QueryResultFromJson(reply.json());
}

}  // namespace dtx
