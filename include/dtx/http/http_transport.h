// dtx::HttpTransport: the coordinator calls HTTP branches (PROTOCOL.md, "How the
// coordinator calls a branch"): POST url?gid=&trans_type=&branch_id=&op= with the
// payload as a JSON body, GET when the payload is empty, branch_headers as headers.
#ifndef DTX_HTTP_HTTP_TRANSPORT_H_
#define DTX_HTTP_HTTP_TRANSPORT_H_

#include <memory>

#include "dtx/allow_list.h"
#include "dtx/transport.h"

namespace dtx {

struct HttpTransportOptions {
  // Threads that deliver answers to the coordinator, and make https calls (blocking: an
  // https call holds a thread while in flight; its timeout bounds it as a whole, its
  // wait for a thread included, a host name's lookup not). Plain http calls hold no
  // thread while they wait: they run on one epoll thread, on keep-alive connections
  // reused per host. A call made for a Submit with wait_result runs on the submitting
  // thread instead (it waits anyway; the request goes out in one write on a keep-alive
  // connection of its own pool), and so do the calls its answers lead to. Default: 16.
  int threads = 16;
  // The hosts and ports branches may be called at; a URL outside it is refused at
  // submit and at call (CheckBranch). Host names are matched as written, not
  // resolved. Default: empty, any address (as DTM): whoever can submit can make the
  // coordinator send requests anywhere it reaches.
  AllowList allow;
  // https branches are verified against the CA certificates in this PEM file (a
  // private CA); empty: the system's store. Default: empty.
  std::string ca_file;
};

// Thread-safe. An answer is classified by StatusFromHttp (dtx/result.h); a connection
// failure, a timeout or an answer that is not HTTP is kUnavailable; a URL it cannot
// parse, or branch_headers that are not valid HTTP fields, kInvalidArgument (see
// CheckBranch).
// The destructor answers the calls in flight (kUnavailable) and waits for them.
class HttpTransport : public Transport {
 public:
  explicit HttpTransport(HttpTransportOptions options = {});
  ~HttpTransport() override;

  void Call(const BranchRequest& request, Callback done) override;

  // OK for an http:// or https:// URL with a host (letters, digits, '-', '.', '_', or
  // a bracketed IPv6 address), a port 1-65535 if given, and a path of visible ASCII;
  // branch_headers whose names are RFC 9110 tokens, whose values hold no control
  // character but tab, and which do not set what frames the request (Content-Length,
  // Transfer-Encoding, Host, Connection, Keep-Alive, TE, Trailer, Upgrade, Expect);
  // and a host and port in options.allow.
  absl::Status CheckBranch(
      std::string_view url,
      const std::map<std::string, std::string>& headers) const override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dtx

#endif  // DTX_HTTP_HTTP_TRANSPORT_H_
