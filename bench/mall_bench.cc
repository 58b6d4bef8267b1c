// mall_bench: orders per second through the mall's HTTP API (each order is a 2-step
// saga over gRPC with barriers, all on SQLite), with the embedded coordinator and with
// dtxd as a separate process, for 1, 8 and 32 clients.
//
// Usage: mall_bench [--seconds N] [--clients 1,8,32]
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "mall_node.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

// dtxd in its own process, on free ports.
class Dtxd {
 public:
  explicit Dtxd(const std::string& db) {
    std::vector<std::string> args = {DTX_DTXD_BINARY, "--http-listen", "127.0.0.1:0",
                                     "--grpc-listen", "127.0.0.1:0",   "--store",
                                     "sqlite://" + db};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (pipe(out) != 0) std::abort();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    FILE* stream = fdopen(out[0], "r");
    char line[512] = {0};
    if (fgets(line, sizeof(line), stream) == nullptr) std::abort();
    fclose(stream);
    int http = 0;
    if (std::sscanf(line, "dtxd: http 127.0.0.1:%d grpc 127.0.0.1:%d", &http,
                    &grpc_port_) != 2) {
      std::abort();
    }
  }
  ~Dtxd() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  std::string grpc_target() const { return "127.0.0.1:" + std::to_string(grpc_port_); }

 private:
  pid_t pid_ = -1;
  int grpc_port_ = 0;
};

double RunOrders(int port, int64_t uid, int64_t pid, int clients, double seconds,
                 long* errors) {
  std::atomic<long> done{0}, failed{0};
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      const std::string body = json{{"uid", uid}, {"pid", pid}, {"num", 1}}.dump();
      while (Clock::now() < end) {
        httplib::Result r = client.Post("/api/order/create", body, "application/json");
        (r && r->status == 200 ? done : failed)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  *errors = failed;
  return done / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  std::vector<int> clients = {1, 8, 32};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string name = argv[i];
    if (name == "--seconds") {
      seconds = std::atof(argv[i + 1]);
    } else if (name == "--clients") {
      clients.clear();
      for (absl::string_view c : absl::StrSplit(argv[i + 1], ',')) {
        int n = 0;
        if (absl::SimpleAtoi(c, &n) && n > 0) clients.push_back(n);
      }
    } else {
      std::fprintf(stderr, "usage: mall_bench [--seconds N] [--clients 1,8,32]\n");
      return 2;
    }
  }
  char pattern[] = "/tmp/dtx-mall-bench-XXXXXX";
  const std::string dir = mkdtemp(pattern);
  std::printf(
      "mall_bench: %u cores, %.1f s per figure, SQLite (WAL, FULL) everywhere, %s\n",
      std::thread::hardware_concurrency(), seconds, dir.c_str());
  std::printf("%-22s %8s %10s %7s\n", "coordinator", "clients", "orders/s", "errors");
  for (const char* mode : {"embedded", "dtxd"}) {
    const bool remote = std::string(mode) == "dtxd";
    const std::string sub = dir + "/" + mode;
    std::unique_ptr<Dtxd> dtxd;
    if (remote) dtxd = std::make_unique<Dtxd>(sub + "-dtxd.db");
    mall::MallNodeOptions options;
    options.dir = sub;
    options.dtxd_grpc = remote ? dtxd->grpc_target() : "";
    auto node = mall::MallNode::Start(options);
    if (!node.ok()) {
      std::fprintf(stderr, "%s\n", node.status().ToString().c_str());
      return 1;
    }
    httplib::Client c("127.0.0.1", (*node)->api_port());
    json user = json::parse(
        c.Post("/api/user/create", R"({"name":"bench","mobile":"1"})", "application/json")
            ->body);
    json product = json::parse(c.Post("/api/product/create",
                                      R"({"name":"p","stock":1000000000,"amount":1})",
                                      "application/json")
                                   ->body);
    for (int n : clients) {
      long errors = 0;
      double rate =
          RunOrders((*node)->api_port(), user["id"], product["id"], n, seconds, &errors);
      std::printf("%-22s %8d %10.0f %7ld\n",
                  remote ? "dtxd (separate process)" : "embedded", n, rate, errors);
      std::fflush(stdout);
    }
  }
  return 0;
}
