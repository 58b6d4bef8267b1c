// The one result vocabulary of dtx (PROTOCOL.md, "Branch results on the wire").
//
// A branch answers SUCCESS, FAILURE (the business said no: roll the transaction back)
// or ONGOING (not yet: ask again at the same interval). Anything else is a transient
// error that the coordinator retries with backoff. In C++ these are absl::Status codes:
//
//   SUCCESS  absl::OkStatus()              HTTP 200   gRPC OK
//   FAILURE  absl::StatusCode::kAborted    HTTP 409   gRPC ABORTED
//   ONGOING  kFailedPrecondition           HTTP 425   gRPC FAILED_PRECONDITION
//   error    any other code                other      any other code
//
// Every transport, the coordinator and the examples convert through this header only.
#ifndef DTX_RESULT_H_
#define DTX_RESULT_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace dtx {

enum class BranchResult { kSuccess, kFailure, kOngoing, kError };

inline constexpr std::string_view kResultSuccess = "SUCCESS";
inline constexpr std::string_view kResultFailure = "FAILURE";
inline constexpr std::string_view kResultOngoing = "ONGOING";

// FAILURE: the business refused; a saga action answering this rolls the saga back.
absl::Status FailureError(std::string_view message);
// ONGOING: not finished yet; the coordinator asks again after retry_interval.
absl::Status OngoingError(std::string_view message);

bool IsFailure(const absl::Status& status);
bool IsOngoing(const absl::Status& status);

// Classifies a status into the four branch results.
BranchResult ResultOf(const absl::Status& status);

// The HTTP status code a branch or the coordinator answers with: 200, 409, 425 for the
// three results; 400/404/409/4xx/5xx for other codes (kInvalidArgument is 400,
// kNotFound 404, kAlreadyExists 409, kResourceExhausted 429, kUnimplemented 501,
// kUnavailable 503, anything else 500).
int HttpStatusOf(const absl::Status& status);

// The JSON body that goes with HttpStatusOf: {"dtm_result":"SUCCESS"} for OK,
// {"dtm_result":"FAILURE"|"ONGOING","message":..} for the two results, and
// {"message":..} for other errors.
std::string HttpBodyOf(const absl::Status& status);

// Reads an HTTP answer the way DTM does: a 425 or a body containing "ONGOING" is
// ONGOING; else a 409 or a body containing "FAILURE" is FAILURE; else any status other
// than 200 is an error (kUnavailable for 5xx, kUnknown otherwise) whose message holds
// the status and the start of the body; else OK.
absl::Status StatusFromHttp(int http_status, std::string_view body);

// gRPC status codes have the same numbers as absl::StatusCode; these convert between
// them without a gRPC dependency. Unknown numbers become kUnknown.
int GrpcCodeOf(const absl::Status& status);
absl::Status StatusFromGrpc(int grpc_code, std::string_view message);

}  // namespace dtx

#endif  // DTX_RESULT_H_
