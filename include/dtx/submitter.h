// Where a transaction goes when it is submitted: the embedded Coordinator, or a client
// of a remote coordinator (dtxd or a DTM server). Saga, Tcc and Msg talk only to this
// interface.
#ifndef DTX_SUBMITTER_H_
#define DTX_SUBMITTER_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
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
  //    is the rollback reason); or it had already failed, or was rolling back, before
  //    this submit;
  //  - kAlreadyExists: the gid had already succeeded (nothing ran again);
  //  - kFailedPrecondition (ONGOING): with wait_result, the first pass did not finish
  //    it; the coordinator keeps driving it;
  //  - another code: not known to be stored (e.g. kUnavailable); safe to submit again
  //    with the same gid.
  // Submitting a gid that is already `submitted` answers OK and runs its next pass.
  // A prepared TCC or message is submitted by its gid (and trans_type): its stored
  // rows are what runs.
  virtual absl::Status Submit(const TransGlobal& global) = 0;

  // The calls below are those of TCC and 2-phase messages; an implementation that
  // lacks one answers kUnimplemented.

  // Stores a `prepared` TCC (gid, trans_type, options) or message (its steps,
  // payloads and query_prepared too). OK for a gid that is still `prepared`;
  // kAborted (FAILURE) for one that moved on.
  virtual absl::Status Prepare(const TransGlobal& global);

  // TCC: adds a branch to a `prepared` transaction (a repeated registration changes
  // nothing). kAborted (FAILURE) when it is no longer prepared; kNotFound for an
  // unknown gid.
  virtual absl::Status RegisterBranch(const TccBranch& branch);

  // Rolls back a prepared message (it fails at once) or a prepared TCC (its cancels
  // run; with options.wait_result this answers as Submit does). kAborted (FAILURE)
  // for a saga or a transaction that was submitted or has ended; kNotFound for an
  // unknown gid. `global` needs gid and trans_type; its rollback_reason is stored.
  virtual absl::Status Abort(const TransGlobal& global);

  // The transaction as stored. kNotFound for an unknown gid.
  virtual absl::StatusOr<TransactionState> Query(std::string_view gid);
};

}  // namespace dtx

#endif  // DTX_SUBMITTER_H_
