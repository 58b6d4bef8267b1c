#include "http/http_wire.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace dtx::internal {
namespace {

bool HasLineBreak(const std::string& s) {
  return s.find_first_of("\r\n") != std::string::npos;
}

Parsed Fail(std::string* error, std::string message) {
  *error = std::move(message);
  return Parsed::kError;
}

Parsed ParseHead(const std::string& in, Parser& p, bool eof, std::string* error) {
  const size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (in.size() > kMaxHead) return Fail(error, "answer head over 64 KiB");
    if (eof) {
      return Fail(error, in.empty() ? "connection closed before an answer"
                                    : "connection closed inside the answer's head");
    }
    return Parsed::kMore;
  }
  const size_t line_end = in.find("\r\n");
  const absl::string_view line(in.data(), line_end);
  const size_t space = line.find(' ');
  if (!absl::StartsWith(line, "HTTP/1.") || space == absl::string_view::npos ||
      line.size() < space + 4 ||
      !absl::SimpleAtoi(line.substr(space + 1, 3), &p.status) || p.status < 100 ||
      p.status > 999) {
    return Fail(error, "not an HTTP answer");
  }
  if (p.status < 200) return Fail(error, "unexpected interim answer");
  p.close = line.substr(0, space) == "HTTP/1.0";
  for (size_t at = line_end + 2; at < end;) {
    const size_t e = in.find("\r\n", at);
    const absl::string_view header(in.data() + at, e - at);
    at = e + 2;
    const size_t colon = header.find(':');
    if (colon == absl::string_view::npos) return Fail(error, "malformed answer header");
    const std::string name = absl::AsciiStrToLower(header.substr(0, colon));
    const std::string value =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(header.substr(colon + 1)));
    if (name == "content-length") {
      if (!absl::SimpleAtoi(value, &p.length) || p.length < 0 ||
          p.length > static_cast<long long>(kMaxBody)) {
        return Fail(error, "bad Content-Length in the answer");
      }
    } else if (name == "transfer-encoding") {
      p.chunked = value.find("chunked") != std::string::npos;
    } else if (name == "connection") {
      if (value == "close") p.close = true;
      if (value == "keep-alive") p.close = false;
    }
  }
  if (p.status == 204 || p.status == 304) {
    p.length = 0;
    p.chunked = false;
  }
  p.head_done = true;
  p.pos = end + 4;
  return Parsed::kMore;
}

Parsed ParseChunks(const std::string& in, Parser& p, bool eof, std::string* error) {
  while (true) {
    const size_t e = in.find("\r\n", p.pos);
    if (e == std::string::npos) {
      return eof ? Fail(error, "connection closed inside a chunk") : Parsed::kMore;
    }
    absl::string_view size_text(in.data() + p.pos, e - p.pos);
    size_text = size_text.substr(0, size_text.find(';'));
    size_t size = 0;
    if (size_text.empty() || size_text.size() > 8) return Fail(error, "bad chunk size");
    for (char c : size_text) {
      const int digit = absl::ascii_isdigit(c)   ? c - '0'
                        : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                        : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                                 : -1;
      if (digit < 0) return Fail(error, "bad chunk size");
      size = size * 16 + digit;
    }
    if (size == 0) {  // the last chunk, then trailers up to an empty line
      for (size_t t = e + 2;;) {
        const size_t te = in.find("\r\n", t);
        if (te == std::string::npos) {
          return eof ? Fail(error, "connection closed inside the trailers")
                     : Parsed::kMore;
        }
        if (te == t) {
          p.pos = te + 2;
          return Parsed::kDone;
        }
        t = te + 2;
      }
    }
    if (p.body.size() + size > kMaxBody) return Fail(error, "answer body over 16 MiB");
    if (in.size() < e + 2 + size + 2) {
      return eof ? Fail(error, "connection closed inside a chunk") : Parsed::kMore;
    }
    if (in.compare(e + 2 + size, 2, "\r\n") != 0) return Fail(error, "malformed chunk");
    p.body.append(in, e + 2, size);
    p.pos = e + 2 + size + 2;
  }
}

}  // namespace

// "http://host:port" -> host (brackets of an IPv6 address dropped) and port.
bool SplitOrigin(const std::string& origin, std::string* host, std::string* port) {
  std::string rest = origin.substr(origin.find("://") + 3);
  if (rest.empty()) return false;
  *port = "80";
  if (rest[0] == '[') {
    const size_t close = rest.find(']');
    if (close == std::string::npos) return false;
    *host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return false;
      *port = rest.substr(close + 2);
    }
  } else {
    const size_t colon = rest.find(':');
    *host = rest.substr(0, colon);
    if (colon != std::string::npos) *port = rest.substr(colon + 1);
  }
  return !host->empty() && !port->empty() &&
         port->find_first_not_of("0123456789") == std::string::npos;
}

absl::StatusOr<std::string> EncodeRequest(const ClientRequest& r) {
  bool clean = !HasLineBreak(r.host) && !HasLineBreak(r.port) &&
               !HasLineBreak(r.method) && !HasLineBreak(r.target) &&
               !HasLineBreak(r.content_type) && r.target.find(' ') == std::string::npos;
  for (const auto& [name, value] : r.headers) {
    clean = clean && !name.empty() && !HasLineBreak(name) && !HasLineBreak(value) &&
            name.find(':') == std::string::npos;
  }
  if (!clean) {
    return absl::InvalidArgumentError(
        "a request line or header holds a line break or a bad character");
  }
  const bool v6 = r.host.find(':') != std::string::npos;
  std::string host_header = v6 ? absl::StrCat("[", r.host, "]") : r.host;
  if (r.port != "80") absl::StrAppend(&host_header, ":", r.port);
  std::string out =
      absl::StrCat(r.method, " ", r.target, " HTTP/1.1\r\nHost: ", host_header,
                   "\r\nConnection: keep-alive\r\n");
  for (const auto& [name, value] : r.headers) {
    absl::StrAppend(&out, name, ": ", value, "\r\n");
  }
  if (r.method != "GET" || !r.body.empty()) {
    if (!r.content_type.empty()) {
      absl::StrAppend(&out, "Content-Type: ", r.content_type, "\r\n");
    }
    absl::StrAppend(&out, "Content-Length: ", r.body.size(), "\r\n");
  }
  absl::StrAppend(&out, "\r\n", r.body);
  return out;
}

Parsed ParseResponse(const std::string& in, Parser& p, bool eof, std::string* error) {
  if (!p.head_done) {
    if (Parsed r = ParseHead(in, p, eof, error); r == Parsed::kError) return r;
    if (!p.head_done) return Parsed::kMore;
  }
  if (p.chunked) return ParseChunks(in, p, eof, error);
  if (p.length >= 0) {
    if (in.size() - p.pos >= static_cast<size_t>(p.length)) {
      p.body = in.substr(p.pos, p.length);
      p.pos += p.length;
      return Parsed::kDone;
    }
    return eof ? Fail(error, "connection closed inside the answer's body")
               : Parsed::kMore;
  }
  p.close = true;  // no length: the body runs to the end of the connection
  if (in.size() - p.pos > kMaxBody) return Fail(error, "answer body over 16 MiB");
  if (!eof) return Parsed::kMore;
  p.body = in.substr(p.pos);
  p.pos = in.size();
  return Parsed::kDone;
}

}  // namespace dtx::internal
