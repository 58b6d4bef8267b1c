#include "dtx/grpc/grpc_transport.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>

#include <chrono>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"
#include "dtx/grpc/grpc_branch.h"
#include "grpc/channel_args.h"
#include "internal/thread_pool.h"

namespace dtx {

absl::Status ParseGrpcUrl(const std::string& url, std::string* target,
                          std::string* method) {
  // The method is the last two path segments: "/package.Service/Method".
  const size_t method_slash = url.rfind('/');
  const size_t service_slash = method_slash == std::string::npos || method_slash == 0
                                   ? std::string::npos
                                   : url.rfind('/', method_slash - 1);
  if (service_slash == std::string::npos || service_slash == 0 ||
      method_slash + 1 == url.size() || method_slash - service_slash < 2) {
    return absl::InvalidArgumentError(
        "not a gRPC branch URL (host:port/package.Service/Method): '" + url + "'");
  }
  *target = url.substr(0, service_slash);
  *method = url.substr(service_slash);
  return absl::OkStatus();
}

class GrpcTransport::Impl {
 public:
  explicit Impl(GrpcTransportOptions options)
      : credentials_(options.credentials != nullptr ? options.credentials
                                                    : grpc::InsecureChannelCredentials()),
        callbacks_(std::max(1, options.callback_threads)) {}

  ~Impl() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* n) { return *n == 0; }, &in_flight_));
  }

  void Call(const BranchRequest& request, Callback done) {
    std::string target, method;
    if (absl::Status s = ParseGrpcUrl(request.url, &target, &method); !s.ok()) {
      std::move(done)(std::move(s));
      return;
    }
    auto call = std::make_unique<InFlight>();
    call->done = std::move(done);
    grpc::ClientContext& ctx = call->context;
    ctx.set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::microseconds(absl::ToInt64Microseconds(request.timeout)));
    ctx.AddMetadata("dtm-gid", request.gid);
    ctx.AddMetadata("dtm-trans_type", request.trans_type);
    ctx.AddMetadata("dtm-branch_id", request.branch_id);
    ctx.AddMetadata("dtm-op", request.op);
    ctx.AddMetadata("dtm-dtm", "");
    for (const auto& [key, value] : request.headers) {
      ctx.AddMetadata(absl::AsciiStrToLower(key), value);
    }
    grpc::Slice slice(request.payload);
    call->request = grpc::ByteBuffer(&slice, 1);
    {
      absl::MutexLock lock(&mu_);
      ++in_flight_;
    }
    InFlight* raw = call.release();
    StubFor(target)->UnaryCall(&raw->context, method, grpc::StubOptions(), &raw->request,
                               &raw->response, [this, raw](grpc::Status status) {
                                 callbacks_.Schedule([this, raw, status] {
                                   std::unique_ptr<InFlight> call(raw);
                                   std::move(call->done)(FromGrpcStatus(status));
                                   call.reset();
                                   absl::MutexLock lock(&mu_);
                                   --in_flight_;
                                 });
                               });
  }

 private:
  struct InFlight {
    grpc::ClientContext context;
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
    Callback done;
  };

  grpc::GenericStub* StubFor(const std::string& target) {
    absl::MutexLock lock(&mu_);
    std::unique_ptr<grpc::GenericStub>& stub = stubs_[target];
    if (stub == nullptr) {
      // No gRPC retries: the coordinator retries a failed call on its own schedule,
      // and gRPC's retry state costs every call in flight ~6.6 KiB (P4; bench/README).
      grpc::ChannelArguments args = internal::QuickReconnect();
      args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
      stub = std::make_unique<grpc::GenericStub>(
          grpc::CreateCustomChannel(target, credentials_, args));
    }
    return stub.get();
  }

  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<grpc::GenericStub>> stubs_
      ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  internal::ThreadPool callbacks_;
};

GrpcTransport::GrpcTransport(GrpcTransportOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

GrpcTransport::~GrpcTransport() = default;

void GrpcTransport::Call(const BranchRequest& request, Callback done) {
  impl_->Call(request, std::move(done));
}

}  // namespace dtx
