// Starting a bench's child process (dtxd, DTM) so that it dies with the bench, even
// when the bench is killed: a child left behind keeps polling the test database and
// drives other runs' transactions (it once failed a CI run that way).
#ifndef DTX_BENCH_CHILD_PROCESS_H_
#define DTX_BENCH_CHILD_PROCESS_H_

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace dtx::bench {

// Runs `args` (args[0] is the program's path) in a child that gets SIGKILL when this
// process ends, with its standard output on `stdout_fd` when it is not -1. Answers
// the child's pid, or -1.
inline pid_t SpawnChild(std::vector<std::string> args, int stdout_fd = -1) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid != 0) return pid;
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
  if (stdout_fd != -1 && dup2(stdout_fd, STDOUT_FILENO) < 0) _exit(127);
  execv(argv[0], argv.data());
  _exit(127);
}

}  // namespace dtx::bench

#endif  // DTX_BENCH_CHILD_PROCESS_H_
