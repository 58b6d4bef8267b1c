// The coordinator's HTTP API under /api/dtmsvr (PROTOCOL.md, "Coordinator API"), as DTM
// serves it, so that DTM's HTTP clients can drive a dtx coordinator.
#ifndef DTX_SERVER_HTTP_API_H_
#define DTX_SERVER_HTTP_API_H_

#include "dtx/coordinator.h"
#include "http/http_server.h"
#include "server/api_metrics.h"
#include "server/auth_tokens.h"

namespace dtx {

struct HttpApiOptions {
  // What GET /api/dtmsvr/version answers.
  std::string version = "dtx 0.1.0";
  // Who may call the API: every route but /api/ping wants "Authorization: Bearer
  // <token>" (401 otherwise) when the set is not empty. With no tokens the API is open,
  // and query, all and stuck show branch_headers names with their values withheld
  // (services put credentials there). Not owned; must outlive the server. Default:
  // none, open.
  const AuthTokens* tokens = nullptr;
  // wait_result submits whose first pass runs on their connection's thread at once;
  // more are parked until their pass ends, holding no thread (HttpServer::PostAsync).
  // Keep it below the server's threads, so that slow sagas leave threads for the
  // rest of the API. Default: 16.
  int max_sync_waits = 16;
  // GET /metrics serves the coordinator's metrics and these request counts as
  // Prometheus text (behind the token, like the API). Not owned. Default: none, no
  // /metrics.
  const ApiMetrics* metrics = nullptr;
};

// Registers the API's routes on `server`, and /healthz (200 while the process serves)
// and /readyz (200 when the store answers a read, 503 otherwise), open as /api/ping.
// A submit's or prepare's W3C `traceparent` and `tracestate` headers become the
// transaction's (TransOptions::traceparent). `coordinator` is not owned and must outlive
// the server. Answers: 200 {"dtm_result":"SUCCESS"}; 409 {"dtm_result":"FAILURE",
// "message":..} (a rolled-back or ended transaction, or wait_result that did not
// finish: "wait result not return success", as DTM); 400 malformed or invalid input;
// 401 without a token the API wants; 404 unknown gid (forceStop, resetNextCronTime);
// 501 a transaction type dtx does not
// drive yet; 503 the store failed; the server's own 404, 405 and 413 (a body over its
// max_body_bytes). Every error body is {"message":..}; nothing is stored for a request
// that gets a 4xx.
void ServeDtmHttpApi(internal::HttpServer& server, Coordinator& coordinator,
                     const HttpApiOptions& options = {});

}  // namespace dtx

#endif  // DTX_SERVER_HTTP_API_H_
