// Runs dtxd as a separate process for end-to-end tests.
#ifndef DTX_TESTS_DTXD_PROCESS_H_
#define DTX_TESTS_DTXD_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace dtx::testing {

class DtxdProcess {
 public:
  // Starts dtxd on 127.0.0.1 (any free ports) with its store at `db_path`, plus
  // `extra_args`; returns when it printed its ready line. REQUIREs success.
  DtxdProcess(const std::string& db_path, std::vector<std::string> extra_args = {});
  ~DtxdProcess();  // SIGKILL if still running

  int http_port() const { return http_port_; }
  int grpc_port() const { return grpc_port_; }
  std::string http_base() const {
    return "http://127.0.0.1:" + std::to_string(http_port_);
  }
  std::string grpc_target() const { return "127.0.0.1:" + std::to_string(grpc_port_); }

  // SIGTERM, then waits; returns the exit status (-1 if it did not exit normally).
  int Terminate();
  // SIGKILL, then waits.
  void Kill();

 private:
  pid_t pid_ = -1;
  int http_port_ = 0;
  int grpc_port_ = 0;
};

}  // namespace dtx::testing

#endif  // DTX_TESTS_DTXD_PROCESS_H_
