// An HTTP/1.1 client on non-blocking sockets and one epoll thread: a request in flight
// holds a socket and its buffers, no thread. Plain http only (no TLS).
#ifndef DTX_HTTP_ASYNC_HTTP_CLIENT_H_
#define DTX_HTTP_ASYNC_HTTP_CLIENT_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "http/http_wire.h"
#include "http/resolver.h"

namespace dtx::internal {

// Thread-safe. Idle keep-alive connections are reused per host:port (at most
// `max_idle_per_origin` are kept); a request never waits for a connection: it opens
// one when none is idle. A reused connection that the peer had closed is retried once
// on a new one. Answers: the response, or kUnavailable for a connection failure, a
// timeout, a host that does not resolve or an answer that is not HTTP,
// kInvalidArgument for a request that cannot be sent (a header with CR or LF). Host
// names are looked up on a thread of their own (`lookup`; an IP address needs none),
// so a slow DNS server holds up only the requests to that name; the addresses are kept
// for the client's life.
class AsyncHttpClient {
 public:
  // Runs exactly once, on the client's thread: it must not block.
  using Done = absl::AnyInvocable<void(absl::StatusOr<ClientResponse>) &&>;

  explicit AsyncHttpClient(size_t max_idle_per_origin, Lookup lookup = SystemLookup);
  // Answers the requests still in flight kUnavailable, then joins its thread.
  ~AsyncHttpClient();
  AsyncHttpClient(const AsyncHttpClient&) = delete;
  AsyncHttpClient& operator=(const AsyncHttpClient&) = delete;

  void Send(ClientRequest request, Done done);

  class Loop;

 private:
  std::unique_ptr<Loop> loop_;
};

}  // namespace dtx::internal

#endif  // DTX_HTTP_ASYNC_HTTP_CLIENT_H_
