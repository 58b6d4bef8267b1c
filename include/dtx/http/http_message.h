// dtx::HttpRequest and dtx::HttpResponse: one HTTP exchange as dtx's servers hand it
// to a handler (HttpBranchServer's branches and plain routes, dtxd's API).
#ifndef DTX_HTTP_HTTP_MESSAGE_H_
#define DTX_HTTP_HTTP_MESSAGE_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dtx {

// A request, read whole and checked for framing before a handler sees it.
struct HttpRequest {
  std::string method;  // as sent: "GET", "POST", ...
  std::string target;  // as sent: path and query, e.g. "/TransOut?gid=g1&op=action"
  std::string path;    // the target's path, percent-decoded
  int version = 11;    // 11 for HTTP/1.1, 10 for HTTP/1.0
  // In the order sent; a name sent twice is here twice. Names as the client wrote
  // them: compare them ignoring case (Header() does).
  std::vector<std::pair<std::string, std::string>> headers;
  // The query's name=value pairs in order, percent-decoded ('+' read as a space); a
  // name without '=' has an empty value.
  std::vector<std::pair<std::string, std::string>> params;
  std::string body;            // a chunked body arrives joined
  std::string remote_address;  // the client's address, e.g. "127.0.0.1"
  int remote_port = 0;

  // The value of the first header called `name` (ignoring case), or nullopt. Points
  // into this request.
  std::optional<std::string_view> Header(std::string_view name) const;
  // The value of the first query parameter called `name` (case counts), or nullopt.
  // Points into this request.
  std::optional<std::string_view> Param(std::string_view name) const;
};

// The answer a handler writes. The server adds Content-Length and, when it closes the
// connection, "Connection: close"; a handler's own headers of those names are dropped.
struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // Sets the body and its Content-Type.
  void SetBody(std::string content, std::string_view content_type);
  // Replaces the first header called `name` (ignoring case), or adds it.
  void SetHeader(std::string_view name, std::string value);
};

// Writes the response to a request. Runs on a server thread, concurrently with other
// handlers; an exception escaping it is answered with 500 {"message":..}.
using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

}  // namespace dtx

#endif  // DTX_HTTP_HTTP_MESSAGE_H_
