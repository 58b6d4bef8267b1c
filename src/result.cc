#include "dtx/result.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace dtx {
namespace {

constexpr size_t kMaxBodyInMessage = 200;

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

}  // namespace

absl::Status FailureError(std::string_view message) {
  return absl::AbortedError(std::string(message));
}

absl::Status OngoingError(std::string_view message) {
  return absl::FailedPreconditionError(std::string(message));
}

bool IsFailure(const absl::Status& status) { return absl::IsAborted(status); }
bool IsOngoing(const absl::Status& status) { return absl::IsFailedPrecondition(status); }

BranchResult ResultOf(const absl::Status& status) {
  if (status.ok()) return BranchResult::kSuccess;
  if (IsOngoing(status)) return BranchResult::kOngoing;
  if (IsFailure(status)) return BranchResult::kFailure;
  return BranchResult::kError;
}

int HttpStatusOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kFailedPrecondition:
      return 425;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kUnimplemented:
      return 501;
    default:
      return 500;
  }
}

std::string HttpBodyOf(const absl::Status& status) {
  nlohmann::json body = nlohmann::json::object();
  switch (ResultOf(status)) {
    case BranchResult::kSuccess:
      body["dtm_result"] = kResultSuccess;
      break;
    case BranchResult::kFailure:
      body["dtm_result"] = kResultFailure;
      body["message"] = std::string(status.message());
      break;
    case BranchResult::kOngoing:
      body["dtm_result"] = kResultOngoing;
      body["message"] = std::string(status.message());
      break;
    case BranchResult::kError:
      body["message"] = std::string(status.message());
      break;
  }
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::Status StatusFromHttp(int http_status, std::string_view body) {
  std::string excerpt(body.substr(0, std::min(body.size(), kMaxBodyInMessage)));
  if (http_status == 425 || Contains(body, kResultOngoing)) return OngoingError(excerpt);
  if (http_status == 409 || Contains(body, kResultFailure)) return FailureError(excerpt);
  if (http_status == 200) return absl::OkStatus();
  std::string message = "HTTP " + std::to_string(http_status) + ": " + excerpt;
  if (http_status >= 500) return absl::UnavailableError(message);
  return absl::UnknownError(message);
}

int GrpcCodeOf(const absl::Status& status) { return static_cast<int>(status.code()); }

absl::Status StatusFromGrpc(int grpc_code, std::string_view message) {
  if (grpc_code < 0 || grpc_code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    grpc_code = static_cast<int>(absl::StatusCode::kUnknown);
  }
  return absl::Status(static_cast<absl::StatusCode>(grpc_code), std::string(message));
}

}  // namespace dtx
