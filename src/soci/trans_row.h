// How SociStore keeps a transaction in one row (sql/<dialect>/store.sql): its branches
// in two columns, and the row's id.
//
// `branches` (binary) says what each branch is, in the order they were added:
//   version byte 1, then per branch:
//     varint flags (bit 0: the payload is the previous branch's, and is not repeated;
//       a saga's action and compensation share theirs)
//     string url, [string payload], string branch_id, string op, string status
//     signed varint: the branch's create time minus the transaction's, in ms
//   where a string is a varint length and its bytes. Branches added later (a TCC's
//   registrations) are appended as records without the version byte.
// `branch_log` (text) holds their results, appended by each write that has some:
//   <unix ms>|<branch_id> <op> <status>[,<branch_id> <op> <status>...];
//   with op and status as one letter when they are one of dtx's (a action,
//   c compensate, t try, f confirm, n cancel, m msg; p prepared, s succeed, f failed)
//   and spelled out otherwise (other names are longer: internal::CheckBranchRows and
//   CheckBranchResults refuse one-character ops and statuses). A branch takes the first
//   result logged for it while it is prepared: later ones are ignored (Store::Update's
//   "no longer prepared is left as it is"). Its update_time and finish_time are that
//   entry's time.
#ifndef DTX_SOCI_TRANS_ROW_H_
#define DTX_SOCI_TRANS_ROW_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "dtx/store.h"
#include "dtx/transaction.h"

namespace dtx::internal {

// `branches` as records of the `branches` column, times relative to `base_ms` (the
// transaction's create time); with the version byte first when `first`.
std::string EncodeBranches(const std::vector<TransBranch>& branches, long long base_ms,
                           bool first);

// The log entry of `results` recorded at `now_ms`; empty when there are none.
// REQUIRES: internal::CheckBranchResults accepts `results` (no separator in a name, no
// op or status of one character, which would read back as one of dtx's).
std::string LogEntry(const std::vector<BranchUpdate>& results, long long now_ms);

// The branches of transaction `gid` from its two columns, in the order they were
// added; TransBranch::id is the position, from 1. kInternal when a column is
// unreadable.
absl::StatusOr<std::vector<TransBranch>> DecodeBranches(std::string_view gid,
                                                        std::string_view branches,
                                                        std::string_view log,
                                                        long long base_ms);

// An id for a row created at `now_ms`: ids grow with time, and rows made in one
// process in the same millisecond get different ids (2048 of them; rows of two
// processes rarely share one). Below 2^53, so that JavaScript reads them exactly.
long long NewRowId(long long now_ms);

}  // namespace dtx::internal

#endif  // DTX_SOCI_TRANS_ROW_H_
