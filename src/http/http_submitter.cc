#include "dtx/http/http_submitter.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "dtx/result.h"
#include "http/client_pool.h"
#include "internal/remote_answer.h"

namespace dtx {

class HttpSubmitter::Impl {
 public:
  explicit Impl(HttpSubmitterOptions options)
      : options(std::move(options)), clients(/*max_idle_per_origin=*/64) {}
  const HttpSubmitterOptions options;
  internal::ClientPool clients;
};

HttpSubmitter::HttpSubmitter(HttpSubmitterOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpSubmitter::~HttpSubmitter() = default;

absl::Status HttpSubmitter::Submit(const TransGlobal& global) {
  absl::StatusOr<std::string> body = TransGlobalToJson(global);
  if (!body.ok()) return body.status();
  std::unique_ptr<httplib::Client> client = impl_->clients.Take(impl_->options.server);
  const auto timeout =
      std::chrono::microseconds(absl::ToInt64Microseconds(impl_->options.timeout));
  client->set_connection_timeout(timeout);
  client->set_read_timeout(timeout);
  client->set_write_timeout(timeout);
  httplib::Result result = client->Post("/api/dtmsvr/submit", *body, "application/json");
  if (!result) {
    return absl::UnavailableError(
        absl::StrCat(impl_->options.server, ": ", httplib::to_string(result.error())));
  }
  impl_->clients.Give(impl_->options.server, std::move(client));
  std::string message = result->body;
  nlohmann::json doc = nlohmann::json::parse(result->body, nullptr, false);
  if (doc.is_object() && doc.contains("message") && doc["message"].is_string()) {
    message = doc["message"].get<std::string>();
  }
  switch (result->status) {
    case 200:
      return absl::OkStatus();
    case 409:
      return internal::FailureOrOngoing(message);
    case 400:
      return absl::InvalidArgumentError(message);
    case 404:
      return absl::NotFoundError(message);
    case 501:
      return absl::UnimplementedError(message);
    default:
      return absl::UnavailableError(absl::StrCat("HTTP ", result->status, ": ", message));
  }
}

}  // namespace dtx
