// How a coordinator's answer to a submit reads on DTM's wire, and back in C++.
#ifndef DTX_INTERNAL_REMOTE_ANSWER_H_
#define DTX_INTERNAL_REMOTE_ANSWER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "dtx/result.h"

namespace dtx::internal {

// DTM (and dtxd, for DTM's clients) answers FAILURE when a wait_result transaction
// rolled back, when it did not finish in its first pass, and for a gid that already
// ended. To a C++ caller the second ("wait result not return success") is ONGOING, and
// dtxd's "already succeeded" kAlreadyExists, as the embedded Coordinator answers.
inline absl::Status FailureOrOngoing(const std::string& message) {
  if (absl::StrContains(message, "wait result not return success")) {
    return OngoingError(message);
  }
  if (absl::StartsWith(message, "transaction ") &&
      absl::EndsWith(message, " already succeeded")) {
    return absl::AlreadyExistsError(message);
  }
  return FailureError(message);
}

// The reverse, for dtxd's APIs: a C++ answer as DTM gives it. ONGOING (wait_result saw
// no end yet) and kAlreadyExists (a gid that already succeeded) are FAILURE there.
inline absl::Status AsDtmAnswer(const absl::Status& status) {
  return IsOngoing(status) || absl::IsAlreadyExists(status)
             ? FailureError(std::string(status.message()))
             : status;
}

}  // namespace dtx::internal

#endif  // DTX_INTERNAL_REMOTE_ANSWER_H_
