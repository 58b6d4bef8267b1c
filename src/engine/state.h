// What the engine knows of a transaction while it drives it: statuses and ops as
// enums (the store and the wire spell them as DTM's strings; they are parsed once, when
// a pass starts), and the branch rows a pass keeps.
#ifndef DTX_ENGINE_STATE_H_
#define DTX_ENGINE_STATE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "dtx/transaction.h"

namespace dtx::engine {

// Global statuses; a branch is kPrepared, kSucceed or kFailed.
enum class Status : uint8_t { kPrepared, kSubmitted, kAborting, kSucceed, kFailed };

// nullopt for a spelling DTM does not use.
std::optional<Status> ParseStatus(absl::string_view name);
absl::string_view Name(Status status);
inline bool IsFinal(Status s) { return s == Status::kSucceed || s == Status::kFailed; }

enum class Op : uint8_t { kAction, kCompensate, kConfirm, kCancel };
std::optional<Op> ParseOp(absl::string_view name);
absl::string_view Name(Op op);

enum class Mode : uint8_t { kSaga, kTcc, kMsg };
std::optional<Mode> ParseMode(absl::string_view trans_type);

// A branch row as a pass keeps it: no gid and no times (a pass lives as long as its
// calls, which may be many at once).
struct Branch {
  std::string branch_id;
  Op op = Op::kAction;
  Status status = Status::kPrepared;
  std::string url;      // empty: a call that always succeeds
  std::string payload;  // the body of the call
  bool in_flight = false;
  bool tried = false;  // called in this pass
};

// The back-check of a 2-phase message (its query_prepared URL, branch "00", op
// "msg"): not a row, called by the msg machine in place of a branch index.
inline constexpr int kQueryPrepared = -1;
inline constexpr absl::string_view kQueryPreparedBranchId{kBranchIdMsg.data(),
                                                          kBranchIdMsg.size()};
inline constexpr absl::string_view kQueryPreparedOp{kOpMsg.data(), kOpMsg.size()};

}  // namespace dtx::engine

#endif  // DTX_ENGINE_STATE_H_
