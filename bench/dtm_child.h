// The real DTM server (../shared/peers/dtm) as a child process of a bench, on free
// ports of 127.0.0.1, storing in schema `dtm` of the PostgreSQL database the dtxd rows
// use: the same server, the same clients and branches, for figures side by side.
#ifndef DTX_BENCH_DTM_CHILD_H_
#define DTX_BENCH_DTM_CHILD_H_

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "child_process.h"
#include "dtx/soci/storage_url.h"

namespace dtx::bench {

class DtmChild {
 public:
  // Starts DTM on `postgres_url` (a postgresql:// storage URL) in `dir` with its
  // tables made afresh in schema `dtm` (DTM's dtm.postgres.sql, through psql). Aborts
  // when DTM or psql is missing or DTM does not answer within 20 s.
  DtmChild(const std::string& postgres_url, const std::string& dir) {
    const std::string binary = std::string(DTX_PEERS_DIR) + "/dtm/dtm";
    if (access(binary.c_str(), X_OK) != 0) Die("no DTM at " + binary);
    absl::StatusOr<StorageTarget> target = ParseStorageUrl(postgres_url);
    if (!target.ok() || target->backend != "postgresql") Die("not a PostgreSQL URL");
    std::map<std::string, std::string> c;  // libpq's key=value connect string
    for (absl::string_view pair :
         absl::StrSplit(target->connect, ' ', absl::SkipEmpty())) {
      std::pair<std::string, std::string> kv =
          absl::StrSplit(pair, absl::MaxSplits('=', 1));
      std::string& value = kv.second;  // 'quoted' by ParseStorageUrl
      if (value.size() >= 2 && value.front() == '\'' && value.back() == '\'') {
        value = value.substr(1, value.size() - 2);
      }
      c[kv.first] = value;
    }
    // DTM's schema, made afresh: its tables have the names of dtx's.
    const std::string psql = "PGPASSWORD='" + c["password"] + "' psql -q -h " +
                             c["host"] + " -p " + c["port"] + " -U " + c["user"] +
                             " -d " + c["dbname"] + " -v ON_ERROR_STOP=1";
    const std::string schema = psql +
                               " -c 'DROP SCHEMA IF EXISTS dtm CASCADE' -c 'CREATE "
                               "SCHEMA dtm' > " +
                               dir + "/psql.log 2>&1";
    const std::string tables = "PGOPTIONS='-c search_path=dtm' " + psql + " -f " +
                               DTX_PEERS_DIR + "/dtm/dtm.postgres.sql >> " + dir +
                               "/psql.log 2>&1";
    if (std::system(schema.c_str()) != 0 || std::system(tables.c_str()) != 0) {
      Die("psql could not make DTM's tables (" + dir + "/psql.log)");
    }
    http_port_ = FreePort();
    const int grpc_port = FreePort();
    std::ofstream(dir + "/conf.yml")
        << "Store:\n  Driver: postgres\n  Host: " << c["host"]
        << "\n  Port: " << c["port"] << "\n  User: " << c["user"] << "\n  Password: '"
        << c["password"] << "'\n  Db: " << c["dbname"]
        << "\n  Schema: dtm\n  MaxOpenConns: 32\n  MaxIdleConns: 32\nHttpPort: "
        << http_port_ << "\nGrpcPort: " << grpc_port << "\nLogLevel: warn\n";
    std::vector<std::string> args = {
        "/bin/sh", "-c",
        "cd " + dir + " && exec " + binary + " -c conf.yml > dtm.log 2>&1"};
    pid_ = SpawnChild(std::move(args));  // sh execs DTM, which keeps the death signal
    if (pid_ < 0) Die("cannot start DTM");
    for (int i = 0; i < 200 && !Listening(http_port_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!Listening(http_port_)) Die("DTM did not listen (" + dir + "/dtm.log)");
  }
  ~DtmChild() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  DtmChild(const DtmChild&) = delete;
  DtmChild& operator=(const DtmChild&) = delete;

  pid_t pid() const { return pid_; }
  std::string http_base() const {
    return "http://127.0.0.1:" + std::to_string(http_port_);
  }

 private:
  [[noreturn]] static void Die(const std::string& why) {
    std::fprintf(stderr, "dtx_bench: %s\n", why.c_str());
    std::abort();
  }
  static int FreePort() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof(a);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n) != 0) {
      Die("no free port");
    }
    close(fd);
    return ntohs(a.sin_port);
  }
  static bool Listening(int port) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    const bool up = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    close(fd);
    return up;
  }

  pid_t pid_ = -1;
  int http_port_ = 0;
};

}  // namespace dtx::bench

#endif  // DTX_BENCH_DTM_CHILD_H_
