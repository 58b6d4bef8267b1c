#include "dtx/http/http_branch.h"

#include <sys/socket.h>

#include <algorithm>

#include "dtx/result.h"
#include "http/http_server.h"

namespace dtx {

absl::StatusOr<BranchInfo> BranchInfoFromRequest(const httplib::Request& request) {
  return BranchInfoFrom([&](std::string_view name) -> std::optional<std::string> {
    const std::string key(name);
    if (!request.has_param(key.c_str())) return std::nullopt;
    return request.get_param_value(key.c_str());
  });
}

void WriteResult(const absl::Status& status, httplib::Response& response) {
  response.status = HttpStatusOf(status);
  response.set_content(HttpBodyOf(status), "application/json");
}

namespace {

// The route ServeBranch and HttpBranchServer::Handle register for `handler`.
std::function<void(const httplib::Request&, httplib::Response&)> BranchRoute(
    BranchHandler handler) {
  return [handler = std::move(handler)](const httplib::Request& request,
                                        httplib::Response& response) {
    absl::StatusOr<BranchInfo> info = BranchInfoFromRequest(request);
    if (!info.ok()) {
      WriteResult(info.status(), response);
      return;
    }
    absl::Status result;
    try {
      result = handler(*info, request);
    } catch (const std::exception& e) {
      result = absl::InternalError(std::string("branch handler threw: ") + e.what());
    }
    WriteResult(result, response);
  };
}

}  // namespace

void ServeBranch(httplib::Server& server, const std::string& path,
                 BranchHandler handler) {
  auto serve = BranchRoute(std::move(handler));
  server.Post(path, serve);
  server.Get(path, serve);
}

HttpBranchServer::HttpBranchServer(int threads)
    : server_(std::make_unique<internal::HttpServer>(
          internal::HttpServerOptions{.threads = std::max(1, threads)})) {}

HttpBranchServer::~HttpBranchServer() { Stop(); }

void HttpBranchServer::Handle(const std::string& path, BranchHandler handler) {
  auto serve = BranchRoute(std::move(handler));
  server_->Post(path, serve);
  server_->Get(path, serve);
}

void AnswerErrorsAsJson(httplib::Server& server) {
  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const char* message = res.status == 413   ? "request body too large"
                          : res.status == 404 ? "no such API"
                                              : "bad request";
    const int status = res.status;
    WriteResult(absl::InvalidArgumentError(message), res);
    res.status = status;
  });
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr e) {
        std::string what = "internal error";
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          what = ex.what();
        } catch (...) {
        }
        WriteResult(absl::InternalError(what), res);
      });
}

absl::StatusOr<int> BindServer(httplib::Server& server, const std::string& host, int port,
                               int backlog) {
  // httplib hands the new socket to the options callback before it binds and listens;
  // keep its descriptor so that listen() can be called again with a larger backlog.
  int fd = -1;
  auto reuse_address = [](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  };
  // Answers go out as head and body in separate writes: without TCP_NODELAY the body
  // waits for the caller's delayed ACK (40 ms on Linux).
  server.set_tcp_nodelay(true);
  server.set_socket_options([&fd, reuse_address](socket_t sock) {
    reuse_address(sock);
    fd = sock;
  });
  int bound = port;
  if (port == 0) {
    bound = server.bind_to_any_port(host);
  } else if (!server.bind_to_port(host, port)) {
    bound = -1;
  }
  server.set_socket_options(reuse_address);
  if (bound <= 0 || fd < 0) {
    return absl::UnavailableError("cannot listen on " + host + ":" +
                                  std::to_string(port));
  }
  if (::listen(fd, backlog) != 0) {
    return absl::UnavailableError("listen(" + std::to_string(backlog) + ") failed");
  }
  return bound;
}

absl::StatusOr<int> HttpBranchServer::Start(const std::string& host, int port) {
  return server_->Start(host, port);
}

void HttpBranchServer::Stop() { server_->Stop(); }

}  // namespace dtx
