// An HTTP/1.1 client that sends on the calling thread and waits there for the answer,
// for callers that wait anyway (a wait_result submit driving its saga, a submitter):
// the request goes out in one write (cpp-httplib's client writes head and body apart,
// and polls before each), then reads until the answer is whole. Plain http only.
#ifndef DTX_HTTP_BLOCKING_HTTP_CLIENT_H_
#define DTX_HTTP_BLOCKING_HTTP_CLIENT_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "http/http_wire.h"

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
  explicit BlockingHttpClient(size_t max_idle_per_origin);
  ~BlockingHttpClient();  // closes the idle connections
  BlockingHttpClient(const BlockingHttpClient&) = delete;
  BlockingHttpClient& operator=(const BlockingHttpClient&) = delete;

  absl::StatusOr<ClientResponse> Send(const ClientRequest& request);

 private:
  int TakeIdle(const std::string& origin);
  void GiveBack(const std::string& origin, int fd);

  const size_t max_idle_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::vector<int>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dtx::internal

#endif  // DTX_HTTP_BLOCKING_HTTP_CLIENT_H_
