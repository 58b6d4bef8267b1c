#include "dtx/http/http_branch.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dtx/result.h"
#include "http/http_server.h"
#include "internal/log_limiter.h"

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

// What a branch server tells its logger.
class HttpBranchServer::CallLog {
 public:
  explicit CallLog(Logger* logger) : logger_(logger) {}

  void Refused(const std::string& path, const absl::Status& error) {
    Warn("bad branch request", path, error,
         {{"path", path}, {"error", std::string(error.message())}});
  }
  void Answered(const std::string& path, const BranchInfo& info,
                const absl::Status& result) {
    const char* outcome = result.ok()         ? "success"
                          : IsFailure(result) ? "failure"
                          : IsOngoing(result) ? "ongoing"
                                              : "error";
    if (logger_->Enabled(LogLevel::kDebug)) {
      const LogField fields[] = {{"gid", info.gid},
                                 {"trans_type", info.trans_type},
                                 {"branch_id", info.branch_id},
                                 {"op", info.op},
                                 {"path", path},
                                 {"result", outcome}};
      logger_->Log(LogLevel::kDebug, "branch", fields);
    }
    if (std::string_view(outcome) != "error") return;
    Warn("branch error", path, result,
         {{"gid", info.gid},
          {"trans_type", info.trans_type},
          {"branch_id", info.branch_id},
          {"op", info.op},
          {"path", path},
          {"error", result.ToString()}});
  }

 private:
  void Warn(std::string_view event, const std::string& path, const absl::Status& error,
            std::vector<LogField> fields) {
    if (!logger_->Enabled(LogLevel::kWarn)) return;
    int64_t suppressed = 0;
    if (!limiter_.Admit(std::string(event) + " " + path + " " +
                            absl::StatusCodeToString(error.code()),
                        &suppressed)) {
      return;
    }
    if (suppressed > 0) fields.push_back({"suppressed", absl::StrCat(suppressed)});
    logger_->Log(LogLevel::kWarn, event, fields);
  }

  Logger* const logger_;
  internal::LogLimiter limiter_;
};

HttpBranchServer::HttpBranchServer(HttpBranchServerOptions options)
    : server_(std::make_unique<internal::HttpServer>(ServerOptions(options))),
      log_(options.logger != nullptr ? std::make_shared<CallLog>(options.logger)
                                     : nullptr) {}

HttpBranchServer::~HttpBranchServer() { Stop(); }

void HttpBranchServer::Handle(const std::string& path, BranchHandler handler) {
  auto serve = [handler = std::move(handler), log = log_, path](
                   const HttpRequest& request, HttpResponse& response) {
    absl::StatusOr<BranchInfo> info = BranchInfoFromRequest(request);
    if (!info.ok()) {
      if (log) log->Refused(path, info.status());
      return WriteResult(info.status(), response);
    }
    absl::Status result;
    try {
      result = handler(*info, request);
    } catch (const std::exception& e) {
      result = absl::InternalError(std::string("branch handler threw: ") + e.what());
    } catch (...) {
      result = absl::InternalError("branch handler threw");
    }
    if (log) log->Answered(path, *info, result);
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
