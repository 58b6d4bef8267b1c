#include "dtx/grpc/grpc_transport.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>

#include <algorithm>
#include <charconv>
#include <chrono>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "dtx/grpc/grpc_branch.h"
#include "grpc/channel_args.h"
#include "internal/text_rules.h"
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
        "not a gRPC branch URL (host:port/package.Service/Method): '" +
        internal::Excerpt(url, 100) + "'");
  }
  *target = url.substr(0, service_slash);
  *method = url.substr(service_slash);
  return absl::OkStatus();
}

namespace {

// "host:port" or "[v6]:port" of a channel target; false for other target forms
// ("dns:///..", "unix:..").
bool SplitTarget(std::string_view target, std::string* host, int* port) {
  const size_t colon = target.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view h = target.substr(0, colon), p = target.substr(colon + 1);
  const bool bracketed = h.size() >= 2 && h.front() == '[' && h.back() == ']';
  if (bracketed) h = h.substr(1, h.size() - 2);
  if (h.empty() || h.find('/') != std::string_view::npos ||
      (!bracketed && h.find(':') != std::string_view::npos)) {
    return false;
  }
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), *port);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size()) return false;
  *host = std::string(h);
  return true;
}

// Whether a gRPC branch may be called at `url` with `headers` (see CheckBranch); on OK,
// the channel target and the method, so that a call parses its URL once.
absl::Status CheckGrpcBranch(std::string_view url,
                             const std::map<std::string, std::string>& headers,
                             const AllowList& allow, std::string* target,
                             std::string* method) {
  // Built only for a message: this runs before every call.
  const auto quoted = [url] { return "'" + internal::Excerpt(url, 100) + "'"; };
  if (!internal::IsVisibleAscii(url)) {
    return absl::InvalidArgumentError(
        absl::StrCat("gRPC branch URL ", quoted(),
                     " holds a space, a control character or a non-ASCII byte"));
  }
  if (absl::Status s = ParseGrpcUrl(std::string(url), target, method); !s.ok()) {
    return s;
  }
  for (char c : *method) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '.' &&
        c != '_') {
      return absl::InvalidArgumentError(
          absl::StrCat("gRPC branch URL ", quoted(),
                       ": the method may hold letters, digits, '.' and '_' only"));
    }
  }
  // gRPC percent-decodes a target and reads its host up to a NUL: "%00" or "%3A"
  // would make the host that is called differ from the host that was checked.
  if (target->find('%') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("gRPC branch URL ", quoted(), ": '%' in the target"));
  }
  std::string host;
  int port = 0;
  const bool host_port = SplitTarget(*target, &host, &port);
  if (host_port && !std::all_of(host.begin(), host.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
               c == '.' || c == '_' || c == ':';
      })) {
    return absl::InvalidArgumentError(absl::StrCat(
        "gRPC branch URL ", quoted(),
        ": the host may hold letters, digits, '-', '.', '_' (or an IPv6 address)"));
  }
  if (!allow.empty()) {
    if (!host_port || !allow.Allows(host, port)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "gRPC branch URL ", quoted(), ": target '", internal::Excerpt(*target, 100),
          "' is not a host:port in the allow-list"));
    }
  }
  for (const auto& [key, value] : headers) {
    const std::string name = absl::AsciiStrToLower(key);
    const std::string quoted_key = "'" + internal::Excerpt(key, 64) + "'";
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c)) ||
                 (c >= 'a' && c <= 'z') || c == '-' || c == '_' || c == '.';
        })) {
      return absl::InvalidArgumentError(
          absl::StrCat("branch header ", quoted_key,
                       " is not a gRPC metadata key (letters, digits, '-', '_', '.')"));
    }
    if (absl::StartsWith(name, "grpc-") || absl::StartsWith(name, "dtm-") ||
        name == "content-type" || name == "te" || name == "user-agent") {
      return absl::InvalidArgumentError(absl::StrCat(
          "branch header ", quoted_key, " is set by the transport, not by a client"));
    }
    if (!absl::EndsWith(name, "-bin") && !internal::IsPrintableAscii(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("branch header ", quoted_key,
                       ": a gRPC metadata value must be printable ASCII (or its key "
                       "end in -bin)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

class GrpcTransport::Impl {
 public:
  explicit Impl(GrpcTransportOptions options)
      : credentials_(options.credentials != nullptr ? options.credentials
                                                    : grpc::InsecureChannelCredentials()),
        allow_(options.allow),
        max_channels_(static_cast<size_t>(std::max(1, options.max_channels))),
        callbacks_(std::max(1, options.callback_threads)) {}

  ~Impl() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* n) { return *n == 0; }, &in_flight_));
  }

  absl::Status Check(std::string_view url,
                     const std::map<std::string, std::string>& headers) const {
    std::string target, method;
    return CheckGrpcBranch(url, headers, allow_, &target, &method);
  }

  void Call(const BranchRequest& request, Callback done) {
    // gRPC aborts the process on metadata it cannot send: check before adding any.
    std::string target, method;
    if (absl::Status s =
            CheckGrpcBranch(request.url, request.headers, allow_, &target, &method);
        !s.ok()) {
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
    call->channel = Acquire(target);
    InFlight* raw = call.release();
    raw->channel->stub->UnaryCall(
        &raw->context, method, grpc::StubOptions(), &raw->request, &raw->response,
        [this, raw](grpc::Status status) {
          callbacks_.Schedule([this, raw, status] {
            std::unique_ptr<InFlight> call(raw);
            std::move(call->done)(FromGrpcStatus(status));
            std::shared_ptr<Channel> channel = std::move(call->channel);
            call.reset();
            absl::MutexLock lock(&mu_);
            --channel->calls;
            --in_flight_;
          });
        });
  }

  size_t Channels() {
    absl::MutexLock lock(&mu_);
    return channels_.size();
  }

 private:
  struct Channel {
    std::unique_ptr<grpc::GenericStub> stub;
    int calls = 0;           // in flight; guarded by mu_
    uint64_t last_used = 0;  // guarded by mu_
  };
  struct InFlight {
    std::shared_ptr<Channel> channel;  // outlives the context: destroyed after it
    grpc::ClientContext context;
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
    Callback done;
  };

  // The channel to `target`, made on first use, counted as busy until its call ends.
  // Past max_channels targets the least recently used idle channels are closed (a
  // busy one stays until its calls end; it is kept alive by its calls meanwhile).
  std::shared_ptr<Channel> Acquire(const std::string& target) {
    absl::MutexLock lock(&mu_);
    ++in_flight_;
    std::shared_ptr<Channel>& channel = channels_[target];
    if (channel == nullptr) {
      // No gRPC retries: the coordinator retries a failed call on its own schedule,
      // and gRPC's retry state costs every call in flight ~6.6 KiB (P4; bench/README).
      grpc::ChannelArguments args = internal::QuickReconnect();
      args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
      channel = std::make_shared<Channel>();
      channel->stub = std::make_unique<grpc::GenericStub>(
          grpc::CreateCustomChannel(target, credentials_, args));
    }
    ++channel->calls;
    channel->last_used = ++tick_;
    std::shared_ptr<Channel> acquired = channel;
    while (channels_.size() > max_channels_) {
      auto oldest = channels_.end();
      for (auto it = channels_.begin(); it != channels_.end(); ++it) {
        if (it->second->calls == 0 &&
            (oldest == channels_.end() ||
             it->second->last_used < oldest->second->last_used)) {
          oldest = it;
        }
      }
      if (oldest == channels_.end()) break;  // every channel is busy
      channels_.erase(oldest);
    }
    return acquired;
  }

  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  const AllowList allow_;
  absl::Mutex mu_;
  const size_t max_channels_;
  absl::flat_hash_map<std::string, std::shared_ptr<Channel>> channels_
      ABSL_GUARDED_BY(mu_);
  uint64_t tick_ ABSL_GUARDED_BY(mu_) = 0;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  internal::ThreadPool callbacks_;
};

GrpcTransport::GrpcTransport(GrpcTransportOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

GrpcTransport::~GrpcTransport() = default;

void GrpcTransport::Call(const BranchRequest& request, Callback done) {
  impl_->Call(request, std::move(done));
}

size_t GrpcTransport::Channels() const { return impl_->Channels(); }

absl::Status GrpcTransport::CheckBranch(
    std::string_view url, const std::map<std::string, std::string>& headers) const {
  return impl_->Check(url, headers);
}

}  // namespace dtx
