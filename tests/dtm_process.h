// The real DTM server (../shared/peers/dtm) as a child process for interoperability
// tests: its embedded store in a directory of the test's, HTTP and gRPC on free ports
// of 127.0.0.1, the cron every second.
#ifndef DTX_TESTS_DTM_PROCESS_H_
#define DTX_TESTS_DTM_PROCESS_H_

#include <optional>
#include <string>

#include "dtxd_process.h"

namespace dtx::testing {

class DtmProcess {
 public:
  // Starts DTM in `dir` (its conf.yml, dtm.bolt and dtm.log go there) and waits until
  // both ports accept connections. REQUIREs success.
  explicit DtmProcess(const std::string& dir);

  int http_port() const { return http_port_; }
  std::string http_base() const { return "http://127.0.0.1:" + std::to_string(http_port_); }
  std::string grpc_target() const { return "127.0.0.1:" + std::to_string(grpc_port_); }

 private:
  int http_port_ = 0, grpc_port_ = 0, json_rpc_port_ = 0;
  std::optional<ChildProcess> process_;
};

}  // namespace dtx::testing

#endif  // DTX_TESTS_DTM_PROCESS_H_
