// Percent-decoding of a request target's path and query (RFC 3986, 2.1; the query as
// HTML forms encode it, '+' for a space).
#ifndef DTX_HTTP_QUERY_STRING_H_
#define DTX_HTTP_QUERY_STRING_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dtx::internal {

// `text` with each %XX (two hex digits) replaced by its byte, and '+' by a space when
// `plus_is_space`. A '%' not followed by two hex digits stays as it is.
std::string PercentDecode(std::string_view text, bool plus_is_space);

// The name=value pairs of a query (the part after '?'), split at '&', each side
// decoded by PercentDecode(.., true). Empty pieces are skipped; a piece without '='
// is a name with an empty value.
std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query);

}  // namespace dtx::internal

#endif  // DTX_HTTP_QUERY_STRING_H_
