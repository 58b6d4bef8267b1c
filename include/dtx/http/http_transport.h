// dtx::HttpTransport: the coordinator calls HTTP branches (PROTOCOL.md, "How the
// coordinator calls a branch"): POST url?gid=&trans_type=&branch_id=&op= with the
// payload as a JSON body, GET when the payload is empty, branch_headers as headers.
#ifndef DTX_HTTP_HTTP_TRANSPORT_H_
#define DTX_HTTP_HTTP_TRANSPORT_H_

#include <memory>

#include "dtx/transport.h"

namespace dtx {

struct HttpTransportOptions {
  // Calls in flight at once on the transport's own threads; each holds a thread while
  // it waits (cpp-httplib is blocking). A call made for a Submit with wait_result runs
  // on the submitting thread instead (it waits anyway), and so do the calls that its
  // answers lead to. Connections are kept alive and shared. Default: 16.
  int threads = 16;
};

// Thread-safe. An answer is classified by StatusFromHttp (dtx/result.h); a connection
// failure or timeout is kUnavailable, a URL it cannot parse kInvalidArgument.
// The destructor waits for the calls in flight.
class HttpTransport : public Transport {
 public:
  explicit HttpTransport(HttpTransportOptions options = {});
  ~HttpTransport() override;

  void Call(const BranchRequest& request, Callback done) override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dtx

#endif  // DTX_HTTP_HTTP_TRANSPORT_H_
