#include "dtx/http/http_submitter.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "dtx/gid.h"
#include "dtx/result.h"
#include "dtx/tracing.h"
#include "http/blocking_http_client.h"
#include "internal/json_read.h"
#include "internal/remote_answer.h"

namespace dtx {

namespace {

// "http://host:port/" as "http://host:port": the paths are dtx's.
HttpSubmitterOptions Normalized(HttpSubmitterOptions o) {
  while (!o.server.empty() && o.server.back() == '/') o.server.pop_back();
  return o;
}

}  // namespace

class HttpSubmitter::Impl {
 public:
  explicit Impl(HttpSubmitterOptions options)
      : options(Normalized(std::move(options))),
        blocking(/*max_idle_per_origin=*/64, this->options.ca_file) {}
  const HttpSubmitterOptions options;
  internal::BlockingHttpClient blocking;  // http and https

  // Sends `method` `target` (with `body` as JSON when not empty, and `trace`'s
  // context as headers when given): the server's answer.
  absl::StatusOr<internal::ClientResponse> Send(const std::string& method,
                                                const std::string& target,
                                                const std::string& body,
                                                const TransOptions* trace = nullptr);
  // POSTs `body` to the API's `op` and answers in the result vocabulary.
  // With `trace`, its traceparent and tracestate go as headers too.
  absl::Status Post(const std::string& op, const std::string& body,
                    const TransOptions* trace = nullptr);
};

absl::StatusOr<internal::ClientResponse> HttpSubmitter::Impl::Send(
    const std::string& method, const std::string& target, const std::string& body,
    const TransOptions* trace) {
  internal::ClientRequest request;
  request.tls = options.server.rfind("https://", 0) == 0;
  if ((!request.tls && options.server.rfind("http://", 0) != 0) ||
      !internal::SplitOrigin(options.server, &request.host, &request.port)) {
    return absl::InvalidArgumentError("bad server address '" + options.server + "'");
  }
  request.method = method;
  request.target = target;
  if (!body.empty()) request.content_type = "application/json";
  if (!options.auth_token.empty()) {
    request.headers.emplace_back("Authorization", "Bearer " + options.auth_token);
  }
  if (trace != nullptr && IsValidTraceparent(trace->traceparent)) {
    request.headers.emplace_back("traceparent", trace->traceparent);
    if (!trace->tracestate.empty()) {
      request.headers.emplace_back("tracestate", trace->tracestate);
    }
  }
  request.body = body;
  request.timeout = options.timeout;
  absl::StatusOr<internal::ClientResponse> answer = blocking.Send(request);
  if (!answer.ok()) {
    return absl::Status(answer.status().code(),
                        absl::StrCat(options.server, ": ", answer.status().message()));
  }
  return answer;
}

namespace {

// The server's answer in the result vocabulary (see HttpSubmitter).
absl::Status StatusOfAnswer(const internal::ClientResponse& answer) {
  std::string message = answer.body;
  absl::StatusOr<nlohmann::json> doc = internal::ReadJson(answer.body, "answer");
  if (doc.ok() && doc->is_object() && doc->contains("message") &&
      (*doc)["message"].is_string()) {
    message = (*doc)["message"].get<std::string>();
  }
  switch (answer.status) {
    case 200:
      return absl::OkStatus();
    case 409:
      return internal::FailureOrOngoing(message);
    case 400:
      return absl::InvalidArgumentError(message);
    case 401:
      return absl::UnauthenticatedError(message);
    case 404:
      return absl::NotFoundError(message);
    case 501:
      return absl::UnimplementedError(message);
    default:
      return absl::UnavailableError(absl::StrCat("HTTP ", answer.status, ": ", message));
  }
}

}  // namespace

absl::Status HttpSubmitter::Impl::Post(const std::string& op, const std::string& body,
                                       const TransOptions* trace) {
  absl::StatusOr<internal::ClientResponse> answer =
      Send("POST", "/api/dtmsvr/" + op, body, trace);
  if (!answer.ok()) return answer.status();
  return StatusOfAnswer(*answer);
}

HttpSubmitter::HttpSubmitter(HttpSubmitterOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpSubmitter::~HttpSubmitter() = default;

absl::Status HttpSubmitter::Submit(const TransGlobal& global) {
  absl::StatusOr<std::string> body = TransGlobalToJson(global);
  if (!body.ok()) return body.status();
  return impl_->Post("submit", *body, &global.options);
}

absl::Status HttpSubmitter::Prepare(const TransGlobal& global) {
  absl::StatusOr<std::string> body = TransGlobalToJson(global);
  if (!body.ok()) return body.status();
  return impl_->Post("prepare", *body, &global.options);
}

absl::Status HttpSubmitter::RegisterBranch(const TccBranch& branch) {
  return impl_->Post("registerBranch", TccBranchToJson(branch));
}

absl::Status HttpSubmitter::Abort(const TransGlobal& global) {
  absl::StatusOr<std::string> body = TransGlobalToJson(global);
  if (!body.ok()) return body.status();
  return impl_->Post("abort", *body);
}

absl::StatusOr<TransactionState> HttpSubmitter::Query(std::string_view gid) {
  if (!IsValidGid(gid)) return absl::InvalidArgumentError("invalid gid");
  absl::StatusOr<internal::ClientResponse> answer =
      impl_->Send("GET", "/api/dtmsvr/query?gid=" + std::string(gid), "");
  if (!answer.ok()) return answer.status();
  if (answer->status != 200) return StatusOfAnswer(*answer);
  return QueryResultFromJson(answer->body);
}

}  // namespace dtx
