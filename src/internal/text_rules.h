// Character rules for what dtx puts on the wire or in a row: HTTP field names and
// values (RFC 9110), gRPC metadata, and text kept for operators.
#ifndef DTX_INTERNAL_TEXT_RULES_H_
#define DTX_INTERNAL_TEXT_RULES_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace dtx::internal {

// RFC 9110 token: 1 or more of ALPHA DIGIT !#$%&'*+-.^_`|~ (an HTTP field name).
bool IsToken(std::string_view s);

// An HTTP field value: no control character but HTAB (obs-text bytes allowed).
bool IsFieldValue(std::string_view s);

// Printable ASCII, space included (0x20-0x7E): what gRPC takes as a metadata value.
bool IsPrintableAscii(std::string_view s);

// Visible ASCII (0x21-0x7E): no space, no control, nothing above 0x7E.
bool IsVisibleAscii(std::string_view s);

// `text` as valid UTF-8 of at most `max_bytes` bytes, for a message kept in a row or
// shown to an operator: invalid sequences and control characters (C0 but tab, DEL, C1)
// become '?',
// and a cut never splits a character ("..." marks it).
std::string Excerpt(std::string_view text, size_t max_bytes);

}  // namespace dtx::internal

#endif  // DTX_INTERNAL_TEXT_RULES_H_
