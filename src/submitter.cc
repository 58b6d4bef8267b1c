#include "dtx/submitter.h"

namespace dtx {

absl::Status Submitter::Prepare(const TransGlobal&) {
  return absl::UnimplementedError("this submitter does not prepare transactions");
}

absl::Status Submitter::RegisterBranch(const TccBranch&) {
  return absl::UnimplementedError("this submitter does not register TCC branches");
}

absl::Status Submitter::Abort(const TransGlobal&) {
  return absl::UnimplementedError("this submitter does not abort transactions");
}

absl::StatusOr<TransactionState> Submitter::Query(std::string_view) {
  return absl::UnimplementedError("this submitter does not query transactions");
}

}  // namespace dtx
