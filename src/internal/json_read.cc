#include "internal/json_read.h"

#include "absl/strings/str_cat.h"

namespace dtx::internal {

absl::StatusOr<nlohmann::json> ReadJson(std::string_view text, std::string_view what,
                                        int max_depth) {
  using nlohmann::json;
  // The callback sees each container as it opens, at the depth of its parent. Refusing
  // one makes the parser skip its contents (iteratively); the flag turns that into an
  // error once the parse is over.
  bool too_deep = false;
  json::parser_callback_t limit = [&](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start ||
         event == json::parse_event_t::array_start) &&
        depth >= max_depth) {
      too_deep = true;
      return false;
    }
    return true;
  };
  try {
    json doc = json::parse(text.begin(), text.end(), limit);
    if (too_deep) {
      return absl::InvalidArgumentError(absl::StrCat(
          std::string(what), ": JSON nested deeper than ", max_depth, " levels"));
    }
    return doc;
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": malformed JSON at byte ", e.byte));
  } catch (const json::exception&) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": malformed JSON"));
  }
}

}  // namespace dtx::internal
