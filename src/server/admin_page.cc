#include "server/admin_page.h"

#include <string>

namespace dtx {
namespace {

void Serve(internal::HttpServer& server, const std::string& path, const char* body,
           const char* content_type) {
  server.Get(path, [body, content_type](const HttpRequest&, HttpResponse& res) {
    res.status = 200;
    res.SetHeader("Content-Security-Policy",
                  "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                  "form-action 'self'");
    res.SetHeader("X-Content-Type-Options", "nosniff");
    res.SetHeader("Referrer-Policy", "no-referrer");
    res.SetHeader("Cache-Control", "no-cache");
    res.SetBody(body, content_type);
  });
}

}  // namespace

void ServeAdminPage(internal::HttpServer& server) {
  Serve(server, "/admin", internal::kAdminIndexHtml, "text/html; charset=utf-8");
  Serve(server, "/admin/", internal::kAdminIndexHtml, "text/html; charset=utf-8");
  Serve(server, "/admin/app.js", internal::kAdminAppJs, "text/javascript; charset=utf-8");
  Serve(server, "/admin/app.css", internal::kAdminAppCss, "text/css; charset=utf-8");
}

}  // namespace dtx
