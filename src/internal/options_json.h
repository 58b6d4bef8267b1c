// TransOptions as stored in a transaction's options column (the JSON fields of DTM's
// submit body).
#ifndef DTX_INTERNAL_OPTIONS_JSON_H_
#define DTX_INTERNAL_OPTIONS_JSON_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "dtx/transaction.h"

namespace dtx::internal {

std::string OptionsToJson(const TransOptions& options);
// Empty text is default options.
absl::StatusOr<TransOptions> OptionsFromJson(std::string_view text);

}  // namespace dtx::internal

#endif  // DTX_INTERNAL_OPTIONS_JSON_H_
