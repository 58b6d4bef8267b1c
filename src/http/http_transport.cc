#include "dtx/http/http_transport.h"

#include <httplib.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "dtx/result.h"
#include "http/async_http_client.h"
#include "http/blocking_http_client.h"
#include "http/client_pool.h"
#include "internal/caller_runs.h"
#include "internal/thread_pool.h"

namespace dtx {
namespace {

struct ParsedUrl {
  std::string origin;  // scheme://host[:port]
  std::string target;  // /path[?query]
};

absl::StatusOr<ParsedUrl> ParseUrl(const std::string& url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos || (url.compare(0, scheme_end, "http") != 0 &&
                                          url.compare(0, scheme_end, "https") != 0)) {
    return absl::InvalidArgumentError("not an http(s) URL: '" + url + "'");
  }
  const size_t path_start = url.find_first_of("/?", scheme_end + 3);
  ParsedUrl parsed;
  parsed.origin = url.substr(0, path_start);
  if (parsed.origin.size() == scheme_end + 3) {
    return absl::InvalidArgumentError("URL has no host: '" + url + "'");
  }
  parsed.target = path_start == std::string::npos ? "/" : url.substr(path_start);
  if (parsed.target[0] == '?') parsed.target = "/" + parsed.target;
  return parsed;
}

void AppendEncoded(std::string_view value, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out->push_back(static_cast<char>(c));
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    }
  }
}

std::string WithBranchQuery(const std::string& target, const BranchRequest& r) {
  std::string out = target;
  out.push_back(target.find('?') == std::string::npos ? '?' : '&');
  out += "gid=";
  AppendEncoded(r.gid, &out);
  out += "&trans_type=";
  AppendEncoded(r.trans_type, &out);
  out += "&branch_id=";
  AppendEncoded(r.branch_id, &out);
  out += "&op=";
  AppendEncoded(r.op, &out);
  return out;
}

absl::Status Perform(internal::ClientPool& pool, const BranchRequest& request) {
  absl::StatusOr<ParsedUrl> url = ParseUrl(request.url);
  if (!url.ok()) return url.status();
  std::unique_ptr<httplib::Client> client = pool.Take(url->origin);
  const auto timeout =
      std::chrono::microseconds(absl::ToInt64Microseconds(request.timeout));
  client->set_connection_timeout(timeout);
  client->set_read_timeout(timeout);
  client->set_write_timeout(timeout);
  httplib::Headers headers(request.headers.begin(), request.headers.end());
  const std::string target = WithBranchQuery(url->target, request);
  httplib::Result result =
      request.payload.empty()
          ? client->Get(target.c_str(), headers)
          : client->Post(target.c_str(), headers, request.payload, "application/json");
  if (!result) {  // the connection is in an unknown state: drop it
    return absl::UnavailableError(
        absl::StrCat(request.url, ": ", httplib::to_string(result.error())));
  }
  pool.Give(url->origin, std::move(client));
  return StatusFromHttp(result->status, result->body);
}

// A branch's answer in the result vocabulary; a failed call says which URL.
absl::Status Answer(const std::string& url,
                    const absl::StatusOr<internal::HttpResponse>& answer) {
  if (answer.ok()) return StatusFromHttp(answer->status, answer->body);
  return absl::Status(answer.status().code(),
                      absl::StrCat(url, ": ", answer.status().message()));
}

}  // namespace

class HttpTransport::Impl {
 public:
  explicit Impl(const HttpTransportOptions& options)
      : clients(std::max(1, options.threads)),
        blocking(/*max_idle_per_origin=*/256),
        threads(std::max(1, options.threads)),
        async(/*max_idle_per_origin=*/256) {}
  internal::ClientPool clients;           // blocking https calls (cpp-httplib)
  internal::BlockingHttpClient blocking;  // blocking http calls
  internal::ThreadPool threads;     // blocking calls, and answers of asynchronous ones
  internal::AsyncHttpClient async;  // destroyed first: answers what is in flight
};

HttpTransport::HttpTransport(HttpTransportOptions options)
    : impl_(std::make_unique<Impl>(options)) {}

HttpTransport::~HttpTransport() = default;

void HttpTransport::Call(const BranchRequest& request, Callback done) {
  absl::StatusOr<ParsedUrl> url = ParseUrl(request.url);
  internal::HttpRequest plain;  // the call, for either plain-http client
  if (url.ok() && url->origin.rfind("http://", 0) == 0 &&
      !internal::SplitOrigin(url->origin, &plain.host, &plain.port)) {
    url = absl::InvalidArgumentError("bad host or port in '" + request.url + "'");
  }
  for (const auto& [name, value] : request.headers) {
    if (url.ok() && (name.empty() || name.find_first_of(":\r\n") != std::string::npos ||
                     value.find_first_of("\r\n") != std::string::npos)) {
      url = absl::InvalidArgumentError("branch header '" + name.substr(0, 64) +
                                       "' holds a line break or a colon in its name");
    }
  }
  if (!url.ok()) {
    std::move(done)(url.status());
    return;
  }
  const bool https = url->origin.rfind("https://", 0) == 0;
  if (!https) {
    plain.method = request.payload.empty() ? "GET" : "POST";
    plain.target = WithBranchQuery(url->target, request);
    plain.headers.assign(request.headers.begin(), request.headers.end());
    plain.content_type = "application/json";
    plain.body = request.payload;
    plain.timeout = request.timeout;
  }
  // A thread that waits for this saga anyway makes the call itself, blocking; so does
  // a transport thread for https (cpp-httplib's client).
  if (https || internal::CallerRuns::Available()) {
    internal::CallerRuns::Work call = [this, https, request, plain,
                                       done = std::move(done)]() mutable {
      absl::Status status;
      if (https) {
        try {
          status = Perform(impl_->clients, request);
        } catch (const std::exception& e) {
          status = absl::UnavailableError(absl::StrCat(request.url, ": ", e.what()));
        }
      } else {
        status = Answer(request.url, impl_->blocking.Send(plain));
      }
      std::move(done)(std::move(status));
    };
    if (!internal::CallerRuns::Offer(call)) impl_->threads.Schedule(std::move(call));
    return;
  }
  // Otherwise no thread waits: the answer comes on the client's loop and is handed to
  // a transport thread (the coordinator writes its database there).
  impl_->async.Send(std::move(plain),
                    [this, where = request.url, done = std::move(done)](
                        absl::StatusOr<internal::HttpResponse> answer) mutable {
                      absl::Status status = Answer(where, answer);
                      impl_->threads.Schedule(
                          [done = std::move(done), status = std::move(status)]() mutable {
                            std::move(done)(std::move(status));
                          });
                    });
}

}  // namespace dtx
