// Reading JSON from untrusted input. Nesting is limited while the text is parsed
// (nlohmann's parser keeps its own stack, so no input makes it recurse), and nothing
// here builds a message from the input's structure: a value nested 100,000 levels deep
// must not reach code that recurses over it (nlohmann's dump() does, once per level).
#ifndef DTX_INTERNAL_JSON_READ_H_
#define DTX_INTERNAL_JSON_READ_H_

#include <nlohmann/json.hpp>
#include <string_view>

#include "absl/status/statusor.h"

namespace dtx::internal {

// Deepest nesting of arrays and objects accepted in a request: a saga's submit body is
// 4 levels deep (its custom_data, a string, is read apart), so 64 leaves room for any
// well-meant client.
inline constexpr int kMaxJsonDepth = 64;

// Parses `text`. kInvalidArgument "malformed JSON" (with the byte offset of the error)
// or "JSON nested deeper than N levels"; `what` names the input in the message.
absl::StatusOr<nlohmann::json> ReadJson(std::string_view text, std::string_view what,
                                        int max_depth = kMaxJsonDepth);

}  // namespace dtx::internal

#endif  // DTX_INTERNAL_JSON_READ_H_
