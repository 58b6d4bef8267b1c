// How a remote coordinator's FAILURE answer to a submit reads in C++.
#ifndef DTX_INTERNAL_REMOTE_ANSWER_H_
#define DTX_INTERNAL_REMOTE_ANSWER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "dtx/result.h"

namespace dtx::internal {

// DTM (and dtxd, for DTM's clients) answers FAILURE both when a wait_result saga
// rolled back and when it did not finish in its first pass; the latter says
// "wait result not return success" and is ONGOING to a C++ caller.
inline absl::Status FailureOrOngoing(const std::string& message) {
  if (absl::StrContains(message, "wait result not return success")) {
    return OngoingError(message);
  }
  return FailureError(message);
}

}  // namespace dtx::internal

#endif  // DTX_INTERNAL_REMOTE_ANSWER_H_
