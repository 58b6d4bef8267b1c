// CPU time of processes on this machine, read from /proc: where a bench's CPU went
// (the bench itself, a dtxd child, the database server), a figure the noisy disk does
// not move the way it moves rates.
#ifndef DTX_BENCH_PROCESS_CPU_H_
#define DTX_BENCH_PROCESS_CPU_H_

#include <dirent.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>

namespace dtx::bench {

// User plus system CPU seconds of process `pid` so far (its threads included); 0 when
// it cannot be read. Resolution: one clock tick (10 ms).
inline double ProcessCpuSeconds(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return 0;
  char buf[1024];
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return 0;
  unsigned long utime = 0, stime = 0;
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                  &stime) != 2) {
    return 0;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// ProcessCpuSeconds of every process whose name (comm) is `name`, such as "postgres"
// (the postmaster and every backend) or "mariadbd", by pid.
inline std::map<pid_t, double> NamedProcessesCpu(const std::string& name) {
  std::map<pid_t, double> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* e = readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    char path[64], comm[64] = {0};
    std::snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
    FILE* f = std::fopen(path, "r");
    if (f == nullptr) continue;
    const bool got = std::fgets(comm, sizeof(comm), f) != nullptr;
    std::fclose(f);
    if (!got) continue;
    comm[std::strcspn(comm, "\n")] = '\0';
    if (name == comm)
      out[static_cast<pid_t>(pid)] = ProcessCpuSeconds(static_cast<pid_t>(pid));
  }
  closedir(proc);
  return out;
}

// The CPU seconds the processes in `after` spent since `before` was read: a process
// that started in between counts whole; one that exited in between is not counted
// (measure across long-lived connections).
inline double CpuSince(const std::map<pid_t, double>& before,
                       const std::map<pid_t, double>& after) {
  double total = 0;
  for (const auto& [pid, seconds] : after) {
    auto it = before.find(pid);
    total += seconds - (it == before.end() ? 0 : it->second);
  }
  return total;
}

}  // namespace dtx::bench

#endif  // DTX_BENCH_PROCESS_CPU_H_
