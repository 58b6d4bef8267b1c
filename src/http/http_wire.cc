#include "http/http_wire.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/dynamic_body.hpp>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace dtx::internal {
namespace {

constexpr int kMaxInterim = 8;  // interim (1xx) answers before the real one

bool HasLineBreak(const std::string& s) {
  return s.find_first_of("\r\n") != std::string::npos;
}

Parsed Fail(std::string* error, std::string message) {
  *error = std::move(message);
  return Parsed::kError;
}

}  // namespace

// "http://host:port" -> host (brackets of an IPv6 address dropped) and port.
bool SplitOrigin(const std::string& origin, std::string* host, std::string* port) {
  std::string rest = origin.substr(origin.find("://") + 3);
  if (rest.empty()) return false;
  *port = origin.rfind("https://", 0) == 0 ? "443" : "80";
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
  if (r.port != (r.tls ? "443" : "80")) absl::StrAppend(&host_header, ":", r.port);
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

// Not eager: Beast 1.74's eager parse goes on past a head whose Content-Length is over
// body_limit, and its string_body reserves that length (a 72 GB Content-Length threw
// bad_alloc; found by fuzz/http_response_fuzz). A dynamic_body grows with the bytes
// that come, never with what a header claims.
struct Parser::Beast {
  Beast() {
    parser.header_limit(static_cast<std::uint32_t>(kMaxHead));
    parser.body_limit(kMaxBody);
  }
  boost::beast::http::response_parser<boost::beast::http::dynamic_body> parser;
  size_t start = 0;  // where this response (after any interim one) starts in the input
  int interim = 0;   // interim answers skipped before it
};

Parser::Parser() : beast(std::make_unique<Beast>()) {}
Parser::~Parser() = default;
Parser::Parser(Parser&&) noexcept = default;
Parser& Parser::operator=(Parser&&) noexcept = default;

Parsed ParseResponse(const std::string& in, Parser& p, bool eof, std::string* error) {
  namespace http = boost::beast::http;
  while (true) {
    auto& parser = p.beast->parser;
    boost::system::error_code ec = http::error::need_more;
    if (p.pos < in.size()) {
      p.pos += parser.put(boost::asio::const_buffer(in.data() + p.pos, in.size() - p.pos),
                          ec);
    }
    // Whatever it holds (interim answers, chunk extensions), an answer's input is
    // bounded as a whole.
    if (in.size() > kMaxHead + kMaxBody) return Fail(error, "answer over 16 MiB");
    // Beast 1.74 applies header_limit to the part of a head not yet taken, and does
    // not limit a chunk's size line or the trailers: both are counted here.
    if (!parser.is_header_done() && in.size() - p.beast->start > kMaxHead) {
      return Fail(error, "answer head over 64 KiB");
    }
    if (ec == http::error::need_more && parser.is_header_done() &&
        in.size() - p.pos > kMaxHead) {
      return Fail(error, "chunk size line or trailer over 64 KiB in the answer");
    }
    if (ec == http::error::need_more && eof) {
      if (parser.is_header_done() && !parser.chunked() &&
          !parser.content_length().has_value()) {
        parser.put_eof(ec);  // a body that runs to the end of the connection
      } else {
        return Fail(error, in.size() == p.beast->start
                               ? "connection closed before an answer"
                               : "connection closed inside the answer");
      }
    }
    if (ec == http::error::need_more) return Parsed::kMore;
    if (ec == http::error::header_limit) return Fail(error, "answer head over 64 KiB");
    if (ec == http::error::body_limit) return Fail(error, "answer body over 16 MiB");
    if (ec) return Fail(error, "not a valid HTTP answer: " + ec.message());
    if (!parser.is_done()) continue;
    const int status = static_cast<int>(parser.get().result_int());
    if (status >= 100 && status < 200 && status != 101) {
      // An interim answer (100 Continue, 103 Early Hints): the real one follows.
      const int interim = p.beast->interim + 1;
      if (interim > kMaxInterim) return Fail(error, "too many interim answers");
      p.beast = std::make_unique<Parser::Beast>();
      p.beast->start = p.pos;
      p.beast->interim = interim;
      continue;
    }
    if (status < 200 || status > 999) return Fail(error, "unexpected answer status");
    p.status = status;
    p.close = !parser.keep_alive();  // a body that ran to the end closes it too
    http::response<http::dynamic_body> answer = parser.release();
    p.body = boost::beast::buffers_to_string(answer.body().data());
    return Parsed::kDone;
  }
}

}  // namespace dtx::internal
