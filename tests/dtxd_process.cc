#include "dtxd_process.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>

extern char** environ;

namespace dtx::testing {

ChildProcess::ChildProcess(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2];
  REQUIRE(pipe(out) == 0);
  const pid_t parent = getpid();
  pid_ = fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    // Only async-signal-safe calls until exec. The child is killed when the thread
    // that started it ends (the test's main thread), however the test ends: a test
    // killed by a signal leaves no server behind to disturb the next one.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execve(argv[0], argv.data(), environ);
    _exit(127);
  }
  close(out[1]);
  FILE* stream = fdopen(out[0], "r");
  char line[512] = {0};
  const bool got = fgets(line, sizeof(line), stream) != nullptr;
  fclose(stream);  // the child ignores SIGPIPE; its later lines go nowhere
  ready_line_ = line;
  INFO(args[0] << " said: " << ready_line_);
  REQUIRE(got);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) Kill();
}

int ChildProcess::port() const {
  const size_t colon = ready_line_.rfind(':');
  return colon == std::string::npos ? -1 : std::atoi(ready_line_.c_str() + colon + 1);
}

int ChildProcess::Terminate() {
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int ChildProcess::Wait() {
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

namespace {

std::vector<std::string> DtxdArgs(const std::string& db_path,
                                  std::vector<std::string> extra) {
  std::vector<std::string> args = {DTX_DTXD_BINARY,      "--http-listen", "127.0.0.1:0",
                                   "--grpc-listen",      "127.0.0.1:0",   "--store",
                                   "sqlite://" + db_path};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace

void ReadDtxdPorts(const ChildProcess& dtxd, int* http_port, int* grpc_port) {
  REQUIRE(std::sscanf(dtxd.ready_line().c_str(),
                      "dtxd: http 127.0.0.1:%d grpc 127.0.0.1:%d", http_port,
                      grpc_port) == 2);
}

DtxdProcess::DtxdProcess(const std::string& db_path, std::vector<std::string> extra_args)
    : process_(DtxdArgs(db_path, std::move(extra_args))) {
  ReadDtxdPorts(process_, &http_port_, &grpc_port_);
}

}  // namespace dtx::testing
