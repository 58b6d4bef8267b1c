#include "dtx/http/http_transport.h"


#include <chrono>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/synchronization/mutex.h"
#include "dtx/result.h"
#include "http/async_http_client.h"
#include "http/blocking_http_client.h"
#include "http/branch_target.h"
#include "internal/text_rules.h"
#include "internal/thread_pool.h"

namespace dtx {
namespace {

void AppendEncoded(std::string_view value, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out->push_back(static_cast<char>(c));
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    }
  }
}

std::string WithBranchQuery(const std::string& target, const BranchRequest& r) {
  std::string out = target;
  out.push_back(target.find('?') == std::string::npos ? '?' : '&');
  out += "gid=";
  AppendEncoded(r.gid, &out);
  out += "&trans_type=";
  AppendEncoded(r.trans_type, &out);
  out += "&branch_id=";
  AppendEncoded(r.branch_id, &out);
  out += "&op=";
  AppendEncoded(r.op, &out);
  return out;
}

// A branch's answer in the result vocabulary; a failed call says which URL.
absl::Status Answer(const std::string& url,
                    const absl::StatusOr<internal::ClientResponse>& answer) {
  if (answer.ok()) return StatusFromHttp(answer->status, answer->body);
  return absl::Status(answer.status().code(),
                      absl::StrCat(url, ": ", answer.status().message()));
}

}  // namespace

class HttpTransport::Impl {
 public:
  explicit Impl(const HttpTransportOptions& options)
      : allow(options.allow),
        blocking(/*max_idle_per_origin=*/256, options.ca_file),
        threads(std::max(1, options.threads)),
        async(/*max_idle_per_origin=*/256) {}
  absl::StatusOr<internal::BranchTarget> Target(
      std::string_view url, const std::map<std::string, std::string>& headers) const;

  const AllowList allow;
  internal::BlockingHttpClient blocking;  // blocking calls: https, and waiting callers'
  internal::ThreadPool threads;     // blocking calls, and answers of asynchronous ones
  internal::AsyncHttpClient async;  // destroyed first: answers what is in flight
};

HttpTransport::HttpTransport(HttpTransportOptions options)
    : impl_(std::make_unique<Impl>(options)) {}

HttpTransport::~HttpTransport() = default;

// The parsed URL of a branch this transport may call with `headers`: the checks of
// CheckBranch, parsing the URL once.
absl::StatusOr<internal::BranchTarget> HttpTransport::Impl::Target(
    std::string_view url, const std::map<std::string, std::string>& headers) const {
  absl::StatusOr<internal::BranchTarget> target = internal::ParseBranchUrl(url);
  if (!target.ok()) return target.status();
  if (!allow.Allows(target->host, target->port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("branch URL '", internal::Excerpt(url, 100), "': ", target->host,
                     " port ", target->port, " is not in the allow-list"));
  }
  if (absl::Status s = internal::CheckHttpHeaders(headers); !s.ok()) return s;
  return target;
}

absl::Status HttpTransport::CheckBranch(
    std::string_view url, const std::map<std::string, std::string>& headers) const {
  return impl_->Target(url, headers).status();
}

void HttpTransport::Call(const BranchRequest& request, Callback done) {
  absl::StatusOr<internal::BranchTarget> url =
      impl_->Target(request.url, request.headers);
  if (!url.ok()) {
    std::move(done)(url.status());
    return;
  }
  internal::ClientRequest call;  // for either client
  call.tls = url->https;
  call.host = url->host;
  call.port = std::to_string(url->port);
  call.method = request.payload.empty() ? "GET" : "POST";
  call.target = WithBranchQuery(url->path, request);
  call.headers.assign(request.headers.begin(), request.headers.end());
  call.content_type = "application/json";
  call.body = request.payload;
  call.timeout = request.timeout;
  // A thread that waits for this saga anyway (request.runner) makes the call itself,
  // blocking; so does a transport thread for https (the blocking client speaks TLS;
  // the loop does not).
  if (call.tls || (request.runner != nullptr && request.runner->Free())) {
    // A call queued for a transport thread counts its wait: request_timeout bounds it
    // from here (the coordinator's lease was renewed for that much).
    call.deadline = absl::Now() + request.timeout;
    CallRunner::Work work = [this, url = request.url, call = std::move(call),
                             done = std::move(done)]() mutable {
      std::move(done)(Answer(url, impl_->blocking.Send(call)));
    };
    if (request.runner == nullptr || !request.runner->Offer(work)) {
      impl_->threads.Schedule(std::move(work));
    }
    return;
  }
  // Otherwise no thread waits: the answer comes on the client's loop and is handed to
  // a transport thread (the coordinator writes its database there).
  impl_->async.Send(std::move(call),
                    [this, where = request.url, done = std::move(done)](
                        absl::StatusOr<internal::ClientResponse> answer) mutable {
                      absl::Status status = Answer(where, answer);
                      impl_->threads.Schedule(
                          [done = std::move(done), status = std::move(status)]() mutable {
                            std::move(done)(std::move(status));
                          });
                    });
}

}  // namespace dtx
