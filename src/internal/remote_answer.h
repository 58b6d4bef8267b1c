// How a remote coordinator's FAILURE answer to a submit reads in C++.
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

}  // namespace dtx::internal

#endif  // DTX_INTERNAL_REMOTE_ANSWER_H_
