// dtx_bench: sagas per second on the embedded coordinator, next to the raw commit rate
// of the database it stores them in, measured in the same run.
//
// Usage: dtx_bench [--seconds N] [--clients 1,8] [--dir DIR]
//
// Prints, for SQLite (WAL, synchronous=FULL):
//  - raw: single-row INSERT commits per second, one writer;
//  - 2-step sagas/s with in-process branches (LocalTransport) and with HTTP branches
//    on 127.0.0.1, each client submitting with wait_result, and the ratio to raw.
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "dtx/coordinator.h"
#include "dtx/gid.h"
#include "dtx/http/http_branch.h"
#include "dtx/http/http_transport.h"
#include "dtx/local_transport.h"
#include "dtx/saga.h"
#include "dtx/soci/soci_store.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  double seconds = 3;
  std::vector<int> clients = {1, 8};
  std::string dir;
};

Flags Parse(int argc, char** argv) {
  Flags f;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string name = argv[i], value = argv[i + 1];
    if (name == "--seconds") {
      f.seconds = std::atof(value.c_str());
    } else if (name == "--clients") {
      f.clients.clear();
      for (absl::string_view c : absl::StrSplit(value, ',')) {
        int n = 0;
        if (absl::SimpleAtoi(c, &n) && n > 0) f.clients.push_back(n);
      }
    } else if (name == "--dir") {
      f.dir = value;
    } else {
      std::fprintf(stderr,
                   "usage: dtx_bench [--seconds N] [--clients 1,8] [--dir DIR]\n");
      std::exit(2);
    }
  }
  if (f.dir.empty()) {
    char pattern[] = "/tmp/dtx-bench-XXXXXX";
    f.dir = mkdtemp(pattern);
  }
  return f;
}

// Single-row INSERT commits per second on a fresh SQLite file, one writer.
double RawSqliteCommits(const std::string& path, double seconds) {
  std::filesystem::remove(path);
  soci::session sql(soci::sqlite3, "db=" + path);
  sql << "PRAGMA journal_mode=WAL";
  sql << "PRAGMA synchronous=FULL";
  sql << "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v VARCHAR(128))";
  std::string v = "a-row-of-about-the-size-of-a-gid-0123456789";
  soci::statement insert = (sql.prepare << "INSERT INTO t (v) VALUES (:v)", soci::use(v));
  long n = 0;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    insert.execute(true);  // autocommit: one transaction per row
    ++n;
  }
  return n / seconds;
}

// Runs `clients` threads submitting 2-step sagas with wait_result for `seconds`.
// Returns sagas/s; counts failures in *errors.
double RunSagas(dtx::Coordinator& coordinator, const std::string& protocol,
                const std::string& a, const std::string& b, int clients, double seconds,
                long* errors) {
  std::atomic<long> done{0}, failed{0};
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      dtx::GidGenerator gids;
      while (Clock::now() < end) {
        dtx::Saga saga(&coordinator, gids.Next());
        saga.Add(a, a, R"({"amount":30})").Add(b, b, R"({"amount":30})");
        saga.Protocol(protocol).WaitResult(true);
        if (saga.Submit().ok()) {
          ++done;
        } else {
          ++failed;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  *errors = failed;
  return done / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags = Parse(argc, argv);
  std::printf("dtx_bench: %u cores, %.1f s per figure, work dir %s\n",
              std::thread::hardware_concurrency(), flags.seconds, flags.dir.c_str());

  const double raw = RawSqliteCommits(flags.dir + "/raw.db", flags.seconds);
  std::printf("sqlite raw single-row commits (WAL, synchronous=FULL, 1 writer): %.0f/s\n",
              raw);

  auto store = dtx::SociStore::Open({.url = "sqlite://" + flags.dir + "/dtx.db"});
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  dtx::LocalTransport local;
  local.Handle("local://a", [](const dtx::BranchRequest&) { return absl::OkStatus(); });
  local.Handle("local://b", [](const dtx::BranchRequest&) { return absl::OkStatus(); });
  dtx::HttpBranchServer service;
  service.Handle("/a", [](const dtx::BranchInfo&, const httplib::Request&) {
    return absl::OkStatus();
  });
  service.Handle("/b", [](const dtx::BranchInfo&, const httplib::Request&) {
    return absl::OkStatus();
  });
  absl::StatusOr<int> port = service.Start();
  if (!port.ok()) return 1;
  const std::string http_base = "http://127.0.0.1:" + std::to_string(*port);
  dtx::HttpTransport http;

  dtx::CoordinatorOptions options;
  options.store = store->get();
  options.transports = {{"local", &local}, {"http", &http}};
  auto coordinator = dtx::Coordinator::Start(options);
  if (!coordinator.ok()) return 1;

  std::printf("%-28s %8s %10s %8s %7s\n", "2-step sagas, SQLite store", "clients",
              "sagas/s", "vs raw", "errors");
  for (const char* kind : {"in-process branches", "HTTP branches"}) {
    const bool is_http = std::string(kind) == "HTTP branches";
    for (int clients : flags.clients) {
      long errors = 0;
      double rate = RunSagas(**coordinator, is_http ? "http" : "local",
                             is_http ? http_base + "/a" : "local://a",
                             is_http ? http_base + "/b" : "local://b", clients,
                             flags.seconds, &errors);
      std::printf("%-28s %8d %10.0f %7.2fx %7ld\n", kind, clients, rate, rate / raw,
                  errors);
    }
  }
  std::printf(
      "per saga: 3 database transactions, 10 statements (create: 1 SELECT + 1+4 "
      "INSERT; each action answer: 2 UPDATE, the last one with the final status)\n");
  (*coordinator)->Shutdown();
  return 0;
}
