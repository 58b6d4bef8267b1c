#include "dtx/grpc/grpc_submitter.h"

#include <grpcpp/create_channel.h>

#include <chrono>

#include "dtmgimp.grpc.pb.h"
#include "dtx/grpc/grpc_branch.h"
#include "dtx/result.h"
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
  const absl::Duration timeout;
  const std::string authorization;
  std::unique_ptr<dtmgimp::Dtm::Stub> stub;
};

GrpcSubmitter::GrpcSubmitter(GrpcSubmitterOptions options)
    : impl_(std::make_unique<Impl>(options)) {}

GrpcSubmitter::~GrpcSubmitter() = default;

absl::Status GrpcSubmitter::Submit(const TransGlobal& global) {
  grpc::ClientContext context;
  context.set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::microseconds(absl::ToInt64Microseconds(impl_->timeout)));
  if (!impl_->authorization.empty()) {
    context.AddMetadata("authorization", impl_->authorization);
  }
  google::protobuf::Empty reply;
  grpc::Status s =
      impl_->stub->Submit(&context, internal::DtmRequestFromTransGlobal(global), &reply);
  if (s.error_code() == grpc::StatusCode::ABORTED) {
    return internal::FailureOrOngoing(s.error_message());
  }
  return FromGrpcStatus(s);
}

}  // namespace dtx
