#include "dtx/soci/do_and_submit.h"

#include "absl/strings/str_cat.h"
#include "dtx/result.h"

namespace dtx {

absl::Status DoAndSubmit(Msg& msg, const std::string& query_prepared, soci::session& sql,
                         const std::function<absl::Status(soci::session&)>& business,
                         const BarrierOptions& options) {
  if (absl::Status s = msg.Prepare(query_prepared); !s.ok()) return s;
  BranchInfo info{std::string(kTransTypeMsg), msg.gid(), std::string(kBranchIdMsg), std::string(kOpMsg)};
  absl::Status done = Barrier(info, options).Call(sql, business);
  if (done.ok()) return msg.Submit();
  if (!IsFailure(done)) {
    // Not known whether it committed (an error at the commit, say): ask the barrier,
    // as the coordinator would, and settle the message now.
    absl::Status committed = Barrier(info, options).QueryPrepared(sql);
    if (committed.ok()) {
      absl::Status submitted = msg.Submit();
      return submitted.ok() ? done
                            : absl::Status(done.code(), absl::StrCat(done.message(),
                                                                     "; and the submit: ",
                                                                     submitted.ToString()));
    }
    if (!IsFailure(committed)) return done;  // the coordinator's back-check settles it
  }
  if (absl::Status aborted = msg.Abort(); !aborted.ok()) {
    return absl::Status(done.code(), absl::StrCat(done.message(), "; and the abort: ",
                                                  aborted.ToString()));
  }
  return done;
}

}  // namespace dtx
