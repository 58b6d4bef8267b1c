// dtxd as a child process of a bench, on free ports of 127.0.0.1.
#ifndef DTX_BENCH_DTXD_CHILD_H_
#define DTX_BENCH_DTXD_CHILD_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "child_process.h"

namespace dtx::bench {

class DtxdChild {
 public:
  // Starts DTX_DTXD_BINARY with its store at `store_url`, plus `extra_args`, and waits
  // for its ready line. Aborts when it does not come.
  explicit DtxdChild(const std::string& store_url,
                     std::vector<std::string> extra_args = {}) {
    std::vector<std::string> args = {DTX_DTXD_BINARY, "--http-listen", "127.0.0.1:0",
                                     "--grpc-listen", "127.0.0.1:0",   "--store",
                                     store_url,       "--log-level",   "warn"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    int out[2];
    if (pipe(out) != 0) std::abort();
    pid_ = SpawnChild(std::move(args), out[1]);
    close(out[1]);
    FILE* stream = fdopen(out[0], "r");
    char line[512] = {0};
    const bool got = fgets(line, sizeof(line), stream) != nullptr;
    fclose(stream);
    if (!got || std::sscanf(line, "dtxd: http 127.0.0.1:%d grpc 127.0.0.1:%d",
                            &http_port_, &grpc_port_) != 2) {
      std::fprintf(stderr, "dtxd did not start: %s\n", line);
      std::abort();
    }
  }
  ~DtxdChild() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  DtxdChild(const DtxdChild&) = delete;
  DtxdChild& operator=(const DtxdChild&) = delete;

  pid_t pid() const { return pid_; }
  std::string http_base() const {
    return "http://127.0.0.1:" + std::to_string(http_port_);
  }
  std::string grpc_target() const { return "127.0.0.1:" + std::to_string(grpc_port_); }

 private:
  pid_t pid_ = -1;
  int http_port_ = 0;
  int grpc_port_ = 0;
};

}  // namespace dtx::bench

#endif  // DTX_BENCH_DTXD_CHILD_H_
