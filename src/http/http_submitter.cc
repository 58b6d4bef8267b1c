#include "dtx/http/http_submitter.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "dtx/result.h"
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

  // POSTs `body` to `path` on the server: its status and body.
  absl::StatusOr<internal::ClientResponse> Post(const std::string& path,
                                              const std::string& body);
};

absl::StatusOr<internal::ClientResponse> HttpSubmitter::Impl::Post(
    const std::string& path, const std::string& body) {
  internal::ClientRequest request;
  request.tls = options.server.rfind("https://", 0) == 0;
  if ((!request.tls && options.server.rfind("http://", 0) != 0) ||
      !internal::SplitOrigin(options.server, &request.host, &request.port)) {
    return absl::InvalidArgumentError("bad server address '" + options.server + "'");
  }
  request.method = "POST";
  request.target = path;
  request.content_type = "application/json";
  if (!options.auth_token.empty()) {
    request.headers.emplace_back("Authorization", "Bearer " + options.auth_token);
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

HttpSubmitter::HttpSubmitter(HttpSubmitterOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpSubmitter::~HttpSubmitter() = default;

absl::Status HttpSubmitter::Submit(const TransGlobal& global) {
  absl::StatusOr<std::string> body = TransGlobalToJson(global);
  if (!body.ok()) return body.status();
  absl::StatusOr<internal::ClientResponse> result =
      impl_->Post("/api/dtmsvr/submit", *body);
  if (!result.ok()) return result.status();
  std::string message = result->body;
  absl::StatusOr<nlohmann::json> doc = internal::ReadJson(result->body, "answer");
  if (doc.ok() && doc->is_object() && doc->contains("message") &&
      (*doc)["message"].is_string()) {
    message = (*doc)["message"].get<std::string>();
  }
  switch (result->status) {
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
      return absl::UnavailableError(absl::StrCat("HTTP ", result->status, ": ", message));
  }
}

}  // namespace dtx
