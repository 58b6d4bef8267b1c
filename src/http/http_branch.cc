#include "dtx/http/http_branch.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <utility>

#include "dtx/result.h"
#include "http/http_server.h"

namespace dtx {

absl::StatusOr<BranchInfo> BranchInfoFromRequest(const HttpRequest& request) {
  return BranchInfoFrom([&](std::string_view name) -> std::optional<std::string> {
    std::optional<std::string_view> value = request.Param(name);
    if (!value) return std::nullopt;
    return std::string(*value);
  });
}

void WriteResult(const absl::Status& status, HttpResponse& response) {
  response.status = HttpStatusOf(status);
  response.SetBody(HttpBodyOf(status), "application/json");
}

namespace {

internal::HttpServerOptions ServerOptions(const HttpBranchServerOptions& options) {
  return {.threads = std::max(1, options.threads),
          .max_body_bytes = options.max_body_bytes,
          .idle_timeout = options.idle_timeout,
          .request_timeout = options.request_timeout,
          .max_connections_per_address = options.max_connections_per_address,
          .tls_cert_file = options.tls_cert_file,
          .tls_key_file = options.tls_key_file,
          .tls_client_ca_file = options.tls_client_ca_file};
}

}  // namespace

HttpBranchServer::HttpBranchServer(int threads)
    : HttpBranchServer(HttpBranchServerOptions{.threads = threads}) {}

HttpBranchServer::HttpBranchServer(HttpBranchServerOptions options)
    : server_(std::make_unique<internal::HttpServer>(ServerOptions(options))) {}

HttpBranchServer::~HttpBranchServer() { Stop(); }

void HttpBranchServer::Handle(const std::string& path, BranchHandler handler) {
  auto serve = [handler = std::move(handler)](const HttpRequest& request,
                                              HttpResponse& response) {
    absl::StatusOr<BranchInfo> info = BranchInfoFromRequest(request);
    if (!info.ok()) return WriteResult(info.status(), response);
    absl::Status result;
    try {
      result = handler(*info, request);
    } catch (const std::exception& e) {
      result = absl::InternalError(std::string("branch handler threw: ") + e.what());
    } catch (...) {
      result = absl::InternalError("branch handler threw");
    }
    WriteResult(result, response);
  };
  server_->Post(path, serve);
  server_->Get(path, std::move(serve));
}

void HttpBranchServer::Get(const std::string& path, HttpHandler handler) {
  server_->Get(path, std::move(handler));
}

void HttpBranchServer::Post(const std::string& path, HttpHandler handler) {
  server_->Post(path, std::move(handler));
}

absl::StatusOr<int> HttpBranchServer::Start(const std::string& host, int port) {
  return server_->Start(host, port);
}

void HttpBranchServer::Stop() { server_->Stop(); }

}  // namespace dtx
