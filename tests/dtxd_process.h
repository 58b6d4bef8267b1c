// Runs dtxd, or any server that prints a ready line, as a separate process for
// end-to-end tests.
#ifndef DTX_TESTS_DTXD_PROCESS_H_
#define DTX_TESTS_DTXD_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace dtx::testing {

// A child process whose first line on stdout says it is ready.
class ChildProcess {
 public:
  // Starts argv[0] with `argv` and waits for its first line. REQUIREs success. The
  // child gets SIGKILL when the thread that constructed it ends: construct it on the
  // test's main thread.
  explicit ChildProcess(std::vector<std::string> argv);
  ~ChildProcess();  // SIGKILL if still running

  const std::string& ready_line() const { return ready_line_; }
  // The port in the ready line's last "HOST:PORT".
  int port() const;

  // SIGTERM, then waits; returns the exit status (-1 if it did not exit normally).
  int Terminate();
  // SIGKILL, then waits.
  void Kill();
  // Waits for the process to exit by itself; returns as Terminate.
  int Wait();

 private:
  pid_t pid_ = -1;
  std::string ready_line_;
};

// The HTTP and gRPC ports of a dtxd child, from its ready line
// ("dtxd: http 127.0.0.1:P grpc 127.0.0.1:Q"). REQUIREs both.
void ReadDtxdPorts(const ChildProcess& dtxd, int* http_port, int* grpc_port);

// dtxd on 127.0.0.1 (any free ports) with its store at `db_path`, plus `extra_args`.
class DtxdProcess {
 public:
  DtxdProcess(const std::string& db_path, std::vector<std::string> extra_args = {});

  int http_port() const { return http_port_; }
  int grpc_port() const { return grpc_port_; }
  std::string http_base() const {
    return "http://127.0.0.1:" + std::to_string(http_port_);
  }
  std::string grpc_target() const { return "127.0.0.1:" + std::to_string(grpc_port_); }

  int Terminate() { return process_.Terminate(); }
  void Kill() { process_.Kill(); }

 private:
  ChildProcess process_;
  int http_port_ = 0;
  int grpc_port_ = 0;
};

}  // namespace dtx::testing

#endif  // DTX_TESTS_DTXD_PROCESS_H_
