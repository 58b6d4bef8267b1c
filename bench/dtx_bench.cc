// dtx_bench: sagas per second next to the raw commit rate of the database they are
// stored in, measured in the same run.
//
// Usage: dtx_bench [--seconds N] [--clients 1,8,32] [--dir DIR]
//                  [--only memory,sqlite,postgresql,mysql,dtxd,dtm] [--postgres URL]
//                  [--mysql URL] [--dtxd-writers N] [--dtxd-sync-waits N] [--sagas N]
//                  [--metrics on|off] [--tracing on|off] [--log-level LEVEL]
//                  [--answer-first on|off]
//
// --answer-first on: every coordinator, embedded and dtxd, runs with
// CoordinatorOptions::answer_before_final_write (relaxed durability, opt-in; the
// README says what it risks). Default: off.
// --metrics, --tracing and --log-level set the embedded coordinators' observability
// (CoordinatorOptions::metrics, a Tracer exporting over OTLP/HTTP to a sink in this
// process, JSON log lines to /dev/null); defaults: metrics on, tracing off, warn.
//
// For each store (SQLite in WAL mode with synchronous=FULL, and PostgreSQL / MariaDB
// when their URLs are given, by default from DTX_TEST_POSTGRES_URL / DTX_TEST_MYSQL_URL)
// and each client count, prints:
//  - raw: single-row INSERT commits per second with that many writers, each in its own
//    connection, one INSERT per transaction; measured before and after the sagas, and
//    the mean is what the ratio divides by;
//  - 2-step sagas/s of the embedded coordinator with in-process branches
//    (LocalTransport), each client submitting with wait_result, and the ratio to raw;
//    on SQLite also with HTTP branches on 127.0.0.1;
//  - on the server stores, the same through dtxd in its own process: sagas submitted to
//    its HTTP API, branches on HTTP in this process, trivial ones (P1a of issue 5),
//    then ones running a barrier and an UPDATE on the same database (P1b).
// First it prints the coordinator's own cost: sagas/s and CPU per saga with
// MemoryStore and in-process branches (the whole process's CPU, clients included).
//
// dtx_bench --sagas N runs exactly N sagas on MemoryStore, one client, and prints the
// CPU per saga: under `valgrind --tool=callgrind` the instruction count divided by N is
// a figure that does not depend on the machine's load.
#include <soci/soci.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "dtm_child.h"
#include "dtx/coordinator.h"
#include "dtx/gid.h"
#include "dtx/http/http_branch.h"
#include "dtx/http/http_submitter.h"
#include "dtx/http/http_transport.h"
#include "dtx/local_transport.h"
#include "dtx/memory_store.h"
#include "dtx/saga.h"
#include "dtx/soci/barrier.h"
#include "dtx/soci/soci_store.h"
#include "dtx/soci/storage_url.h"
#include "dtxd_child.h"
#include "http/http_server.h"
#include "otel/otel_tracer.h"
#include "process_cpu.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

struct Flags {
  double seconds = 3;
  std::vector<int> clients = {1, 8};
  std::string dir;
  long sagas = 0;  // --sagas N: only the fixed MemoryStore run
  std::string postgres = Env("DTX_TEST_POSTGRES_URL");
  std::string mysql = Env("DTX_TEST_MYSQL_URL");
  std::string dtxd_writers = "0";  // --dtxd-writers N: dtxd --store-writers
  // --dtxd-sync-waits N: dtxd --sync-waits (0: every wait_result submit parked)
  std::string dtxd_sync_waits = "-1";
  // Which parts run: memory, sqlite, postgresql, mysql, dtxd (dtxd: P1a and P1b on
  // each server store given), dtm (the real DTM's rows beside dtxd's on PostgreSQL).
  std::set<std::string> only = {"memory", "sqlite", "postgresql", "mysql", "dtxd", "dtm"};
  bool Runs(const std::string& part) const { return only.count(part) > 0; }
  // The embedded coordinators' observability (issue 14): metrics on or off, spans
  // exported over OTLP/HTTP to a sink in this process or none, log records from this
  // level (JSON lines to /dev/null).
  bool metrics = true;
  bool tracing = false;
  double tracing_ratio = 1;  // --tracing-ratio: the tracer's sample_ratio
  std::string log_level = "warn";
  bool answer_first = false;
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
    } else if (name == "--sagas") {
      f.sagas = std::atol(value.c_str());
    } else if (name == "--only") {
      f.only.clear();
      for (absl::string_view part : absl::StrSplit(value, ',')) f.only.emplace(part);
    } else if (name == "--dtxd-writers") {
      f.dtxd_writers = value;
    } else if (name == "--dtxd-sync-waits") {
      f.dtxd_sync_waits = value;
    } else if (name == "--postgres") {
      f.postgres = value;
    } else if (name == "--mysql") {
      f.mysql = value;
    } else if (name == "--metrics") {
      f.metrics = value != "off";
    } else if (name == "--tracing") {
      f.tracing = value == "on";
    } else if (name == "--tracing-ratio") {
      f.tracing_ratio = std::atof(value.c_str());
    } else if (name == "--log-level") {
      f.log_level = value;
    } else if (name == "--answer-first") {
      f.answer_first = value == "on";
    } else {
      std::fprintf(stderr,
                   "usage: dtx_bench [--seconds N] [--clients 1,8] [--dir DIR] "
                   "[--only memory,sqlite,postgresql,mysql,dtxd,dtm] [--postgres URL] "
                   "[--mysql URL] [--sagas N] [--dtxd-writers N] "
                   "[--dtxd-sync-waits N] [--metrics on|off] [--tracing on|off] "
                   "[--tracing-ratio R] "
                   "[--log-level debug|info|warn|error] [--answer-first on|off]\n");
      std::exit(2);
    }
  }
  if (f.dir.empty()) {
    char pattern[] = "/tmp/dtx-bench-XXXXXX";
    f.dir = mkdtemp(pattern);
  }
  return f;
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Single-row INSERT commits per second on `url` with `clients` writers, each with its
// own connection and one INSERT per transaction (autocommit).
double RawCommits(const std::string& url, int clients, double seconds) {
  {
    soci::session sql;
    if (!dtx::OpenSession(sql, url).ok()) return 0;
    sql << "DROP TABLE IF EXISTS bench_raw";
    sql << "CREATE TABLE bench_raw (id BIGINT NOT NULL, v VARCHAR(128) NOT NULL)";
  }
  std::atomic<long> n{0};
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      soci::session sql;
      if (!dtx::OpenSession(sql, url).ok()) return;
      long long id = c;
      std::string v = "a-row-of-about-the-size-of-a-gid-0123456789";
      soci::statement insert =
          (sql.prepare << "INSERT INTO bench_raw (id, v) VALUES (:id, :v)", soci::use(id),
           soci::use(v));
      while (Clock::now() < end) {
        insert.execute(true);
        ++n;
      }
    });
  }
  for (auto& t : threads) t.join();
  return n / seconds;
}

// Runs `clients` threads submitting 2-step sagas with wait_result for `seconds`.
// Returns sagas/s; counts failures in *errors.
double RunSagas(dtx::Submitter& coordinator, const std::string& protocol,
                const std::string& a, const std::string& b, int clients, double seconds,
                long* errors, std::vector<double>* latencies_ms = nullptr) {
  std::atomic<long> done{0}, failed{0};
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  std::mutex mu;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      dtx::GidGenerator gids;
      std::vector<double> mine;  // each submit's time to its answer
      while (Clock::now() < end) {
        dtx::Saga saga(&coordinator, gids.Next());
        saga.Add(a, a, R"({"amount":30})").Add(b, b, R"({"amount":30})");
        saga.Protocol(protocol).WaitResult(true);
        const auto start = Clock::now();
        if (saga.Submit().ok()) {
          ++done;
          if (latencies_ms != nullptr) {
            mine.push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - start).count());
          }
        } else {
          ++failed;
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      if (latencies_ms != nullptr) {
        latencies_ms->insert(latencies_ms->end(), mine.begin(), mine.end());
      }
    });
  }
  for (auto& t : threads) t.join();
  *errors = failed;
  return done / seconds;
}

// The `q` quantile (0..1) of `values`, or 0 when empty.
double Quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  const size_t k = std::min(values.size() - 1, static_cast<size_t>(q * values.size()));
  std::nth_element(values.begin(), values.begin() + k, values.end());
  return values[k];
}

// P1b's branch: a barrier and one UPDATE of a stock row (one of kStockRows, picked by
// the gid, so that sagas do not queue on one row lock) in the branch's own database.
constexpr int kStockRows = 1024;

absl::Status PrepareStockTable(soci::connection_pool& pool) {
  soci::session sql(pool);
  if (absl::Status s = dtx::Barrier::CreateTable(sql); !s.ok()) return s;
  absl::StatusOr<std::string> barrier = dtx::Barrier::TableName(sql);
  if (!barrier.ok()) return barrier.status();
  sql << "DELETE FROM " + *barrier;
  sql << "DROP TABLE IF EXISTS bench_stock";
  sql << "CREATE TABLE bench_stock (id BIGINT PRIMARY KEY, stock BIGINT NOT NULL)";
  for (int id = 0; id < kStockRows; ++id) {
    sql << "INSERT INTO bench_stock (id, stock) VALUES (:id, 1000000000)", soci::use(id);
  }
  return absl::OkStatus();
}

absl::Status TakeStock(soci::connection_pool& pool, const dtx::BranchInfo& info,
                       int delta) {
  soci::session sql(pool);
  long long id = static_cast<long long>(std::hash<std::string>{}(info.gid) % kStockRows);
  return dtx::Barrier(info).Call(sql, [&](soci::session& tx) {
    tx << "UPDATE bench_stock SET stock = stock + :d WHERE id = :id", soci::use(delta),
        soci::use(id);
    return absl::OkStatus();
  });
}

// Drops the coordinator's tables so that each run starts from empty ones.
bool DropStoreTables(const std::string& url) {
  soci::session sql;
  if (!dtx::OpenSession(sql, url).ok()) return false;
  sql << "DROP TABLE IF EXISTS dtx_trans";
  sql << "DROP TABLE IF EXISTS trans_branch_op";  // the two-table layout
  sql << "DROP TABLE IF EXISTS trans_global";
  return true;
}

// The name of the processes of a store's database server on this machine ("" for
// SQLite, which runs inside the bench).
std::string DatabaseProcess(const std::string& part) {
  if (part == "postgresql") return "postgres";
  if (part == "mysql") return "mariadbd";
  return "";
}

struct Row {
  explicit Row(std::string what) : branches(std::move(what)) {}
  std::string branches;
  double rate = 0;  // sagas/s
  long errors = 0;
  std::string cpu;  // where the CPU went, per saga
  double server_us = 0, db_us = 0;  // CPU per saga of the server child, the database
  double p50_ms = 0, p99_ms = 0;    // a submit's time to its answer
};

// The CPU a run costs per saga, by process: this one (clients, branches, and the
// coordinator when embedded), dtxd when it is a child, the database server when it
// runs on this machine (its processes are found by name).
class CpuMeter {
 public:
  CpuMeter(pid_t dtxd, std::string db_process, std::string server_name = "dtxd")
      : dtxd_(dtxd),
        db_process_(std::move(db_process)),
        server_name_(std::move(server_name)) {
    self_ = CpuSeconds();
    if (dtxd_ > 0) dtxd_cpu_ = dtx::bench::ProcessCpuSeconds(dtxd_);
    if (!db_process_.empty()) db_cpu_ = dtx::bench::NamedProcessesCpu(db_process_);
  }
  // The text of `row`'s CPU line, and its server and database figures.
  void PerSaga(double sagas, Row* row) const {
    if (sagas <= 0) return;
    auto us = [&](double seconds) { return static_cast<long>(seconds * 1e6 / sagas); };
    std::string out =
        "CPU per saga: this process " + std::to_string(us(CpuSeconds() - self_)) + " us";
    if (dtxd_ > 0) {
      row->server_us = us(dtx::bench::ProcessCpuSeconds(dtxd_) - dtxd_cpu_);
      out += ", " + server_name_ + " " +
             std::to_string(static_cast<long>(row->server_us)) + " us";
    }
    if (!db_process_.empty()) {
      row->db_us =
          us(dtx::bench::CpuSince(db_cpu_, dtx::bench::NamedProcessesCpu(db_process_)));
      out += ", " + db_process_ + " " + std::to_string(static_cast<long>(row->db_us)) +
             " us";
    }
    row->cpu = out;
  }

 private:
  const pid_t dtxd_;
  const std::string db_process_;
  const std::string server_name_;
  double self_ = 0, dtxd_cpu_ = 0;
  std::map<pid_t, double> db_cpu_;
};

// Runs RunSagas into `row` and notes where its CPU went, and its latencies when `run`
// records them.
void MeasureRow(Row* row, pid_t dtxd, const std::string& db_process,
                const std::function<double(long*, std::vector<double>*)>& run,
                double seconds, const std::string& server_name = "dtxd") {
  CpuMeter meter(dtxd, db_process, server_name);
  std::vector<double> latencies;
  row->rate = run(&row->errors, &latencies);
  meter.PerSaga(row->rate * seconds, row);
  row->p50_ms = Quantile(latencies, 0.5);
  row->p99_ms = Quantile(latencies, 0.99);
}

// Prints the rows measured between two raw runs, against their mean: the disk's rate
// drifts, and this halves what the drift does to a ratio.
void PrintRows(const std::string& store, int clients, double raw_before, double raw_after,
               const std::vector<Row>& rows) {
  const double raw = (raw_before + raw_after) / 2;
  for (const Row& row : rows) {
    std::printf("%-20s %-26s %7d %12.0f %9.0f %6.2fx %6ld   (raw %.0f, %.0f)\n",
                store.c_str(), row.branches.c_str(), clients, raw, row.rate,
                raw > 0 ? row.rate / raw : 0.0, row.errors, raw_before, raw_after);
    if (!row.cpu.empty()) {
      std::printf("    %s", row.cpu.c_str());
      if (row.p50_ms > 0)
        std::printf("; p50 %.2f ms, p99 %.2f ms", row.p50_ms, row.p99_ms);
      std::printf("\n");
    }
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags = Parse(argc, argv);
  // Debian's abseil is built with mutex deadlock detection on: it keeps a lock graph
  // on every Lock and Mutex destruction. dtxd turns it off too.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::printf("dtx_bench: %u cores, %.1f s per figure, work dir %s\n",
              std::thread::hardware_concurrency(), flags.seconds, flags.dir.c_str());
  dtx::LocalTransport local;
  local.Handle("local://a", [](const dtx::BranchRequest&) { return absl::OkStatus(); });
  local.Handle("local://b", [](const dtx::BranchRequest&) { return absl::OkStatus(); });
  // dtxd calls branches with up to 64 keep-alive connections, each holding a thread.
  dtx::HttpBranchServer service(160);
  for (const char* path : {"/a", "/b"}) {
    service.Handle(path, [](const dtx::BranchInfo&, const dtx::HttpRequest&) {
      return absl::OkStatus();
    });
  }
  // P1b's branches, on the database of the store being measured.
  std::unique_ptr<soci::connection_pool> branch_db;
  service.Handle("/take-a", [&](const dtx::BranchInfo& info, const dtx::HttpRequest&) {
    return TakeStock(*branch_db, info, -1);
  });
  service.Handle("/take-b", [&](const dtx::BranchInfo& info, const dtx::HttpRequest&) {
    return TakeStock(*branch_db, info, -1);
  });
  absl::StatusOr<int> port = service.Start();
  if (!port.ok()) return 1;
  const std::string http_base = "http://127.0.0.1:" + std::to_string(*port);
  dtx::HttpTransport http;

  // Observability of the embedded coordinators (--metrics, --tracing, --log-level).
  absl::StatusOr<dtx::LogLevel> log_level = dtx::ParseLogLevel(flags.log_level);
  if (!log_level.ok()) return 2;
  std::FILE* devnull = std::fopen("/dev/null", "w");
  dtx::StreamLogger logger(dtx::LogFormat::kJsonLines, *log_level, devnull);
  // The spans' sink: an OTLP/HTTP endpoint that takes every batch and drops it.
  dtx::internal::HttpServer sink;
  std::unique_ptr<dtx::OtelTracer> tracer;
  if (flags.tracing) {
    sink.Post("/v1/traces",
              [](const dtx::HttpRequest&, dtx::HttpResponse& res) { res.status = 200; });
    absl::StatusOr<int> sink_port = sink.Start("127.0.0.1", 0);
    if (!sink_port.ok()) return 1;
    absl::StatusOr<std::unique_ptr<dtx::OtelTracer>> made = dtx::OtelTracer::Create(
        {.endpoint = absl::StrCat("http://127.0.0.1:", *sink_port, "/v1/traces"),
         .service_name = "dtx_bench",
         .sample_ratio = flags.tracing_ratio,
         .logger = &logger});
    if (!made.ok()) return 1;
    tracer = *std::move(made);
  }
  const auto observe = [&](dtx::CoordinatorOptions& options) {
    options.metrics = flags.metrics;
    options.tracer = tracer.get();
    options.logger = &logger;
    options.answer_before_final_write = flags.answer_first;
  };
  std::printf("observability: metrics %s, tracing %s, log level %s\n",
              flags.metrics ? "on" : "off", flags.tracing ? "on (OTLP/HTTP)" : "off",
              flags.log_level.c_str());
  std::printf("durability: %s\n", flags.answer_first
                                      ? "answer before the final write (relaxed)"
                                      : "every answer after its write is durable");

  if (flags.Runs("memory") || flags.sagas > 0) {
    // The coordinator's own cost: MemoryStore, in-process branches; a fresh one for
    // each figure, so that none pays for the transactions an earlier one left.
    auto start = [&](dtx::MemoryStore& memory) {
      dtx::CoordinatorOptions options;
      options.store = &memory;
      options.transports = {{"local", &local}};
      options.poll_interval = absl::ZeroDuration();
      observe(options);
      return dtx::Coordinator::Start(options);
    };
    if (flags.sagas > 0) {
      dtx::MemoryStore memory;
      auto coordinator = start(memory);
      if (!coordinator.ok()) return 1;
      dtx::GidGenerator gids;
      const double cpu0 = CpuSeconds();
      long ok = 0;
      for (long i = 0; i < flags.sagas; ++i) {
        dtx::Saga saga(coordinator->get(), gids.Next());
        saga.Add("local://a", "local://a", R"({"amount":30})")
            .Add("local://b", "local://b", R"({"amount":30})");
        ok += saga.Protocol("local").WaitResult(true).Submit().ok();
      }
      std::printf("memory store: %ld of %ld sagas succeeded, %.1f us CPU per saga\n", ok,
                  flags.sagas, (CpuSeconds() - cpu0) * 1e6 / flags.sagas);
      return ok == flags.sagas ? 0 : 1;
    }
    for (int clients : flags.clients) {
      dtx::MemoryStore memory;
      auto coordinator = start(memory);
      if (!coordinator.ok()) return 1;
      long errors = 0;
      const double cpu0 = CpuSeconds();
      const double rate = RunSagas(**coordinator, "local", "local://a", "local://b",
                                   clients, flags.seconds, &errors);
      std::printf(
          "memory store, in-process branches, %d clients: %.0f sagas/s, %.1f us "
          "CPU per saga (process), %ld errors\n",
          clients, rate, (CpuSeconds() - cpu0) * 1e6 / (rate * flags.seconds), errors);
    }
  }

  struct StoreUnderTest {
    std::string part, name, url;
  };
  std::vector<StoreUnderTest> stores = {
      {"sqlite", "SQLite (WAL, FULL)", "sqlite://" + flags.dir + "/dtx.db"}};
  if (!flags.postgres.empty())
    stores.push_back({"postgresql", "PostgreSQL", flags.postgres});
  if (!flags.mysql.empty()) stores.push_back({"mysql", "MariaDB", flags.mysql});

  std::printf("%-20s %-26s %7s %12s %9s %7s %6s\n", "store", "branches", "clients",
              "raw commit/s", "sagas/s", "ratio", "errors");
  // The embedded coordinator, in this process.
  for (const auto& [part, name, url] : stores) {
    if (!flags.Runs(part)) continue;
    const bool sqlite = part == "sqlite";
    if (!sqlite && !DropStoreTables(url)) {
      std::printf("%-20s cannot connect\n", name.c_str());
      continue;
    }
    auto store = dtx::SociStore::Open({.url = url, .pool_size = 16});
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
      return 1;
    }
    dtx::CoordinatorOptions options;
    options.store = store->get();
    options.transports = {{"local", &local}, {"http", &http}};
    observe(options);
    auto coordinator = dtx::Coordinator::Start(options);
    if (!coordinator.ok()) return 1;
    const std::string raw_url = sqlite ? "sqlite://" + flags.dir + "/raw.db" : url;
    const std::string db_process = DatabaseProcess(part);
    for (int clients : flags.clients) {
      const double raw_before = RawCommits(raw_url, clients, flags.seconds);
      std::vector<Row> rows;
      for (const bool is_http : {false, true}) {
        if (is_http && !sqlite) continue;
        Row row(is_http ? "HTTP (127.0.0.1)" : "in-process");
        const dtx::SociStoreCounts before = (*store)->Counts();
        MeasureRow(
            &row, 0, db_process,
            [&](long* errors, std::vector<double>* latencies) {
              return RunSagas(**coordinator, is_http ? "http" : "local",
                              is_http ? http_base + "/a" : "local://a",
                              is_http ? http_base + "/b" : "local://b", clients,
                              flags.seconds, errors, latencies);
            },
            flags.seconds);
        const dtx::SociStoreCounts after = (*store)->Counts();
        if (after.commits > before.commits) {
          row.cpu += absl::StrFormat(
              "; %.1f writes per commit",
              static_cast<double>(after.writes - before.writes) /
                  static_cast<double>(after.commits - before.commits));
        }
        rows.push_back(row);
      }
      PrintRows(name, clients, raw_before, RawCommits(raw_url, clients, flags.seconds),
                rows);
    }
    (*coordinator)->Shutdown();
  }

  // P1a and P1b: dtxd in its own process on a server store; sagas submitted to its HTTP
  // API with wait_result; branches on HTTP in this process: trivial ones, then ones
  // that each run a barrier and an UPDATE on the same database server.
  for (const auto& [part, name, url] : stores) {
    if (part == "sqlite" || !flags.Runs("dtxd")) continue;
    if (!DropStoreTables(url)) continue;
    branch_db = std::make_unique<soci::connection_pool>(64);
    for (size_t i = 0; i < 64; ++i) {
      if (!dtx::OpenSession(branch_db->at(i), url).ok()) return 1;
    }
    if (absl::Status s = PrepareStockTable(*branch_db); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    std::vector<std::string> dtxd_flags = {"--store-connections", "16",
                                           "--store-writers",     flags.dtxd_writers,
                                           "--sync-waits",        flags.dtxd_sync_waits};
    if (flags.answer_first) dtxd_flags.push_back("--answer-before-final-write");
    dtx::bench::DtxdChild dtxd(url, dtxd_flags);
    dtx::HttpSubmitter submitter({.server = dtxd.http_base()});
    // The real DTM beside it, on the same PostgreSQL (its own schema), driven by the
    // same clients against the same branches.
    std::unique_ptr<dtx::bench::DtmChild> dtm;
    std::unique_ptr<dtx::HttpSubmitter> to_dtm;
    if (part == "postgresql" && flags.Runs("dtm")) {
      if (access((std::string(DTX_PEERS_DIR) + "/dtm/dtm").c_str(), X_OK) != 0) {
        std::printf("DTM: not found in %s/dtm, its rows left out\n", DTX_PEERS_DIR);
      } else {
        const std::string dtm_dir = flags.dir + "/dtm";
        std::filesystem::create_directories(dtm_dir);
        dtm = std::make_unique<dtx::bench::DtmChild>(url, dtm_dir);
        to_dtm = std::make_unique<dtx::HttpSubmitter>(
            dtx::HttpSubmitterOptions{.server = dtm->http_base()});
      }
    }
    for (int clients : flags.clients) {
      const double raw_before = RawCommits(url, clients, flags.seconds);
      std::vector<Row> rows;
      for (const bool barrier : {false, true}) {
        const std::string what = barrier ? ", HTTP, barrier+UPDATE" : ", HTTP";
        // dtxd, then DTM: each dtxd figure with DTM's next to it.
        for (const bool is_dtm : {false, true}) {
          if (is_dtm && dtm == nullptr) continue;
          Row& row = rows.emplace_back((is_dtm ? "DTM" : "dtxd") + what);
          MeasureRow(
              &row, is_dtm ? dtm->pid() : dtxd.pid(), DatabaseProcess(part),
              [&](long* errors, std::vector<double>* latencies) {
                return RunSagas(
                    is_dtm ? static_cast<dtx::Submitter&>(*to_dtm) : submitter, "http",
                    http_base + (barrier ? "/take-a" : "/a"),
                    http_base + (barrier ? "/take-b" : "/b"), clients, flags.seconds,
                    errors, latencies);
              },
              flags.seconds, is_dtm ? "dtm" : "dtxd");
        }
      }
      PrintRows(name, clients, raw_before, RawCommits(url, clients, flags.seconds), rows);
      // dtxd against DTM, per pair of rows.
      for (size_t i = 0; dtm != nullptr && i + 1 < rows.size(); i += 2) {
        const Row& ours = rows[i];
        const Row& theirs = rows[i + 1];
        const double our_cpu = ours.server_us + ours.db_us;
        const double their_cpu = theirs.server_us + theirs.db_us;
        std::printf(
            "    %s vs %s: sagas/s %.1fx; server + database CPU per saga %.0f vs %.0f "
            "us (1/%.1f); dtxd p99 %.2f ms vs DTM p50 %.2f ms\n",
            ours.branches.c_str(), theirs.branches.c_str(),
            theirs.rate > 0 ? ours.rate / theirs.rate : 0.0, our_cpu, their_cpu,
            our_cpu > 0 ? their_cpu / our_cpu : 0.0, ours.p99_ms, theirs.p50_ms);
      }
      std::fflush(stdout);
    }
  }
  branch_db.reset();
  std::printf(
      "per successful saga: 2 writes (create; the final status with both answers), "
      "one statement each on every store (one row per transaction: INSERT, then "
      "UPDATE); concurrent writes share transactions (group commit), on PostgreSQL a "
      "group is one round trip (a pipeline)\n");
  return 0;
}
