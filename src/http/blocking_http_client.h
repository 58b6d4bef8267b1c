// An HTTP/1.1 client that sends on the calling thread and waits there for the answer,
// for callers that wait anyway (a wait_result submit driving its saga, a submitter):
// the request goes out in one write (cpp-httplib's client writes head and body apart,
// and polls before each), then reads until the answer is whole. http, and https
// (OpenSSL, tls_client.h: certificates verified, one deadline for the whole exchange).
#ifndef DTX_HTTP_BLOCKING_HTTP_CLIENT_H_
#define DTX_HTTP_BLOCKING_HTTP_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "http/http_wire.h"
#include "http/tls_client.h"

namespace dtx::internal {

// Thread-safe; one request per calling thread at a time. Idle keep-alive connections
// are reused per host:port (at most `max_idle_per_origin` kept); a request that finds
// its reused connection closed by the peer (nothing sent back) goes out again on the
// next one, in the end on a new one. Answers as AsyncHttpClient
// does: the response, kUnavailable for a connection failure, a timeout (the request's
// timeout bounds the whole exchange) or an answer that is not HTTP, kInvalidArgument
// for a request that cannot be sent.
class BlockingHttpClient {
 public:
  // https servers are verified against the CAs in `ca_file` (PEM), or the system's
  // store when it is empty; a file that cannot be loaded fails every https request
  // with kFailedPrecondition.
  explicit BlockingHttpClient(size_t max_idle_per_origin, std::string ca_file = "");
  ~BlockingHttpClient();  // closes the idle connections
  BlockingHttpClient(const BlockingHttpClient&) = delete;
  BlockingHttpClient& operator=(const BlockingHttpClient&) = delete;

  absl::StatusOr<ClientResponse> Send(const ClientRequest& request);

 private:
  struct Conn {
    int fd = -1;
    ssl_st* ssl = nullptr;  // https
  };
  // The TLS context, made on the first https request.
  absl::StatusOr<const TlsClientContext*> Tls();
  Conn TakeIdle(const std::string& origin);
  void GiveBack(const std::string& origin, Conn conn);
  // `healthy`: no call on it failed (a TLS session then says close_notify).
  static void Close(Conn conn, bool healthy);

  const size_t max_idle_;
  const std::string ca_file_;
  absl::once_flag tls_once_;
  absl::StatusOr<std::unique_ptr<TlsClientContext>> tls_ = nullptr;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::vector<Conn>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dtx::internal

#endif  // DTX_HTTP_BLOCKING_HTTP_CLIENT_H_
