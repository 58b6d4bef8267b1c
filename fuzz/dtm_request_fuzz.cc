// Fuzz target: a DtmRequest as dtxd's gRPC API receives it (protobuf bytes), converted
// to a transaction (TransGlobalFromDtmRequest), and back.
#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>

#include "dtmgimp.pb.h"
#include "grpc/dtm_request.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Protobuf logs every string field that is not UTF-8: noise at this rate.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dtmgimp::DtmRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  absl::StatusOr<dtx::TransGlobal> global =
      dtx::internal::TransGlobalFromDtmRequest(request);
  if (!global.ok()) return 0;
  dtmgimp::DtmRequest again = dtx::internal::DtmRequestFromTransGlobal(*global);
  absl::StatusOr<dtx::TransGlobal> reread =
      dtx::internal::TransGlobalFromDtmRequest(again);
  if (!reread.ok() || reread->gid != global->gid ||
      reread->payloads.size() != global->payloads.size()) {
    __builtin_trap();
  }
  return 0;
}
