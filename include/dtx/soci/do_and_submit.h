// dtx::DoAndSubmit: a 2-phase message sent as the outbox of a local transaction
// (DTM's DoAndSubmitDB): the message is delivered if and only if the local
// transaction commits.
#ifndef DTX_SOCI_DO_AND_SUBMIT_H_
#define DTX_SOCI_DO_AND_SUBMIT_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "dtx/msg.h"
#include "dtx/soci/barrier.h"

namespace dtx {

// Prepares `msg` with `query_prepared` (a handler that answers with
// Barrier::QueryPrepared on the same database), runs `business` on `sql` in one local
// transaction with the message's barrier row (gid, "00", "msg"), then submits `msg`.
// Returns
//  - OK: the business committed and the message was submitted;
//  - the business's FAILURE (kAborted): rolled back; the message was aborted;
//  - another error of the business or of the commit: whether the local transaction
//    committed is asked of the barrier (QueryPrepared); the message is submitted if
//    it did, aborted if not, and left prepared if that question fails too (the
//    coordinator's back-check settles it); the error is returned in every case;
//  - an error of the prepare (nothing ran) or of the submit (the business committed:
//    the coordinator asks query_prepared when the message times out, and delivers it).
// A crash between the commit and the submit is settled the same way.
absl::Status DoAndSubmit(Msg& msg, const std::string& query_prepared, soci::session& sql,
                         const std::function<absl::Status(soci::session&)>& business,
                         const BarrierOptions& options = {});

}  // namespace dtx

#endif  // DTX_SOCI_DO_AND_SUBMIT_H_
