// Transactions as DTM's gRPC API carries them (proto/dtmgimp.proto).
#ifndef DTX_GRPC_DTM_REQUEST_H_
#define DTX_GRPC_DTM_REQUEST_H_

#include "absl/status/statusor.h"
#include "dtmgimp.pb.h"
#include "dtx/transaction.h"

namespace dtx::internal {

// The protocol is ReqExtra["protocol"] (a dtx extension), else "grpc" as DTM assumes.
// kInvalidArgument for malformed Steps JSON, an unknown trans_type or
// anything TransGlobalFromJson refuses.
absl::StatusOr<TransGlobal> TransGlobalFromDtmRequest(const dtmgimp::DtmRequest& request);

// Durations round up to whole seconds (DTM's unit). A protocol other than "grpc" goes
// in ReqExtra["protocol"].
dtmgimp::DtmRequest DtmRequestFromTransGlobal(const TransGlobal& global);

// DTM's RegisterBranch for TCC: Data {"confirm": url, "cancel": url}, BusiPayload the
// data of both calls. Validated as TccBranchFromJson validates.
absl::StatusOr<TccBranch> TccBranchFromDtmBranchRequest(
    const dtmgimp::DtmBranchRequest& request);
dtmgimp::DtmBranchRequest DtmBranchRequestFromTccBranch(const TccBranch& branch);

}  // namespace dtx::internal

#endif  // DTX_GRPC_DTM_REQUEST_H_
