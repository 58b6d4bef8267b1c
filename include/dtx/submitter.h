// Where a transaction goes when it is submitted: the embedded Coordinator, or a client
// of a remote coordinator (dtxd or a DTM server). Saga talks only to this interface.
#ifndef DTX_SUBMITTER_H_
#define DTX_SUBMITTER_H_

#include "absl/status/status.h"
#include "dtx/transaction.h"

namespace dtx {

// Implementations are thread-safe.
class Submitter {
 public:
  virtual ~Submitter() = default;

  // Stores `global` durably and starts driving it. Returns
  //  - OK: stored (and, with options.wait_result, finished successfully);
  //  - kInvalidArgument: the transaction is malformed; nothing was stored;
  //  - kAborted (FAILURE): with wait_result, the transaction rolled back (the message
  //    is the rollback reason); or it had already ended before this submit;
  //  - kFailedPrecondition (ONGOING): with wait_result, the first pass did not finish
  //    it; the coordinator keeps driving it;
  //  - another code: not known to be stored (e.g. kUnavailable); safe to submit again
  //    with the same gid.
  // Submitting a gid that is already `submitted` answers OK and runs its next pass.
  virtual absl::Status Submit(const TransGlobal& global) = 0;
};

}  // namespace dtx

#endif  // DTX_SUBMITTER_H_
