// dtxd's admin page: static HTML, JS and CSS compiled into the binary (nothing is
// fetched at run time), served at /admin. The page reads and steers transactions
// through dtxd's own API with the token typed into it, so it needs no route of its own
// beyond its files, and shows nothing to whoever lacks a token dtxd wants.
#ifndef DTX_SERVER_ADMIN_PAGE_H_
#define DTX_SERVER_ADMIN_PAGE_H_

#include "http/http_server.h"

namespace dtx {
namespace internal {
extern const char kAdminIndexHtml[];
extern const char kAdminAppJs[];
extern const char kAdminAppCss[];
}  // namespace internal

// GET /admin and /admin/ (the page), /admin/app.js, /admin/app.css; each with a
// Content-Security-Policy that lets the page load its own files only.
void ServeAdminPage(internal::HttpServer& server);

}  // namespace dtx

#endif  // DTX_SERVER_ADMIN_PAGE_H_
