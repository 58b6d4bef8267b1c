// HTTP/1.1 on the wire, for dtx's own clients: a request as the bytes to send (in one
// write), and the parse of an answer as its bytes arrive.
#ifndef DTX_HTTP_HTTP_WIRE_H_
#define DTX_HTTP_HTTP_WIRE_H_

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace dtx::internal {

struct ClientRequest {
  bool tls = false;    // https
  std::string host;    // a name or an address; IPv6 without brackets
  std::string port;    // decimal
  std::string method;  // GET or POST
  std::string target;  // /path?query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type;  // with a body
  std::string body;          // POST only
  absl::Duration timeout = absl::Seconds(3);  // from when the client starts on it
  // The request is given up at this time however long it waited to start (a call
  // queued for a thread counts its wait). Default: none.
  absl::Time deadline = absl::InfiniteFuture();
};

struct ClientResponse {
  int status = 0;
  std::string body;
};

// "http://host:port" (or https) -> host (an IPv6 address without its brackets) and
// port ("80", or "443" for https, when none is given). False when it has no host or a bad port.
bool SplitOrigin(const std::string& origin, std::string* host, std::string* port);

// The request's bytes: request line, Host, keep-alive, its headers, Content-Type and
// Content-Length with a body, then the body. kInvalidArgument when a part holds a line
// break (or the target a space, a header name a colon): it would split the request.
absl::StatusOr<std::string> EncodeRequest(const ClientRequest& request);

constexpr size_t kMaxHead = 64 * 1024;
constexpr size_t kMaxBody = 16 * 1024 * 1024;

// The parse of one response, kept across reads: Boost.Beast's response parser, fed
// from the connection's input.
struct Parser {
  Parser();
  ~Parser();
  Parser(Parser&&) noexcept;
  Parser& operator=(Parser&&) noexcept;

  int status = 0;
  bool close = false;  // the connection ends with this response
  size_t pos = 0;      // input taken so far (the next response starts here once done)
  std::string body;

  struct Beast;  // the parser and what it has counted (http_wire.cc)
  std::unique_ptr<Beast> beast;
};

enum class Parsed { kMore, kDone, kError };

// Parses what has arrived of a response (`in`, all of it so far); `eof`: nothing more
// will. kError sets *error; kDone leaves the status and body in `p`. Up to 8 interim
// answers (1xx but 101) are skipped. Refused: a head over kMaxHead, a body over
// kMaxBody, a chunk size line or trailer over kMaxHead, input over kMaxHead + kMaxBody
// in all, and what Beast's parser cannot read (a status line without the space after
// the code, header names that are not tokens, Content-Lengths that disagree, ...).
Parsed ParseResponse(const std::string& in, Parser& p, bool eof, std::string* error);

}  // namespace dtx::internal

#endif  // DTX_HTTP_HTTP_WIRE_H_
