// Three dtxd processes on one database (the conformance backend), one of them killed
// with SIGKILL while sagas are in flight: the other two finish every transaction, and
// the barrier-protected branches show each op applied exactly once.
#include <httplib.h>
#include <soci/soci.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "conformance.h"
#include "dtx/coordinator.h"
#include "dtx/http/http_branch.h"
#include "dtx/local_transport.h"
#include "dtx/result.h"
#include "dtx/saga.h"
#include "dtx/soci/barrier.h"
#include "dtx/soci/storage_url.h"
#include "dtxd_process.h"
#include "test_util.h"

namespace dtx {
namespace {

using nlohmann::json;

constexpr int kSagas = 60;

bool Refused(const std::string& gid) {
  return std::stoi(gid.substr(gid.rfind('-') + 1)) % 5 == 0;
}

// Transfer branches on an SQLite database of their own, behind barriers, writing a
// ledger row per applied op; each op takes 20 ms so that sagas are in flight.
class Bank {
 public:
  explicit Bank(const std::string& dir) : url_("sqlite://" + dir + "/bank.db") {
    soci::session sql;
    REQUIRE(OpenSession(sql, url_).ok());
    sql << "CREATE TABLE ledger (gid TEXT, op TEXT, delta INTEGER)";
    REQUIRE(Barrier::CreateTable(sql).ok());
    for (const char* path : {"/out", "/in"}) {
      server_.Handle(path, [this, path](const BranchInfo& info, const dtx::HttpRequest&) {
        const bool in = std::string(path) == "/in";
        const int delta = (in ? 10 : -10) * (info.op == "compensate" ? -1 : 1);
        soci::session sql;
        if (absl::Status s = OpenSession(sql, url_); !s.ok()) return s;
        return Barrier(info).Call(sql, [&](soci::session& tx) -> absl::Status {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          if (in && info.op == "action" && Refused(info.gid))
            return FailureError("refused");
          tx << "INSERT INTO ledger (gid, op, delta) VALUES (:g, :o, :d)",
              soci::use(info.gid), soci::use(std::string(path) + info.op),
              soci::use(delta);
          return absl::OkStatus();
        });
      });
    }
    base_ = "http://127.0.0.1:" + std::to_string(server_.Start().value());
  }
  const std::string& base() const { return base_; }

  // (gid/op -> times applied), and the sum of all deltas.
  std::map<std::string, int> Applied(int* total) {
    soci::session sql;
    REQUIRE(OpenSession(sql, url_).ok());
    std::map<std::string, int> applied;
    std::string gid, op;
    int delta = 0;
    *total = 0;
    soci::statement st = (sql.prepare << "SELECT gid, op, delta FROM ledger",
                          soci::into(gid), soci::into(op), soci::into(delta));
    st.execute();
    while (st.fetch()) {
      ++applied[gid + op];
      *total += delta;
    }
    return applied;
  }

 private:
  std::string url_;
  std::string base_;
  HttpBranchServer server_;
};

TEST_CASE("three coordinators on one database, one killed mid-run") {
  const std::string dir = dtx::testing::NewTempDir("multi");
  testing::FreshStore().reset();  // empty tables, created
  Bank bank(dir);
  std::vector<std::unique_ptr<testing::ChildProcess>> dtxds;
  std::vector<int> ports;
  for (int i = 0; i < 3; ++i) {
    dtxds.push_back(std::make_unique<testing::ChildProcess>(std::vector<std::string>{
        DTX_DTXD_BINARY, "--http-listen", "127.0.0.1:0", "--grpc-listen", "", "--store",
        testing::ConformanceUrl(), "--lease", "1", "--poll-interval", "0.1",
        "--retry-interval", "1"}));
    int http = 0;
    REQUIRE(std::sscanf(dtxds.back()->ready_line().c_str(), "dtxd: http 127.0.0.1:%d",
                        &http) == 1);
    ports.push_back(http);
  }
  // Submit round-robin, without waiting for results.
  for (int i = 0; i < kSagas; ++i) {
    const std::string gid = "multi-" + std::to_string(i);
    json saga = {
        {"gid", gid},
        {"trans_type", "saga"},
        {"steps",
         {{{"action", bank.base() + "/out"}, {"compensate", bank.base() + "/out"}},
          {{"action", bank.base() + "/in"}, {"compensate", bank.base() + "/in"}}}},
        {"payloads", {"{}", "{}"}}};
    httplib::Client c("127.0.0.1", ports[i % 3]);
    httplib::Result r = c.Post("/api/dtmsvr/submit", saga.dump(), "application/json");
    REQUIRE(r);
    REQUIRE(r->status == 200);
  }
  dtxds[0]->Kill();

  httplib::Client c("127.0.0.1", ports[1]);
  auto status_of = [&](int i) {
    httplib::Result r =
        c.Get(("/api/dtmsvr/query?gid=multi-" + std::to_string(i)).c_str());
    REQUIRE(r);
    return json::parse(r->body)["transaction"].value("status", "");
  };
  int unfinished_at_kill = 0;
  for (int i = 0; i < kSagas; i += 3) {  // the killed coordinator's own
    const std::string s = status_of(i);
    unfinished_at_kill += s != "succeed" && s != "failed";
  }
  INFO("the killed coordinator left " << unfinished_at_kill << " of its 20 unfinished");
  CHECK(unfinished_at_kill > 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int finished = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    finished = 0;
    for (int i = 0; i < kSagas; ++i) {
      const std::string s = status_of(i);
      finished += s == "succeed" || s == "failed";
    }
    if (finished == kSagas) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  REQUIRE(finished == kSagas);
  int succeeded = 0;
  for (int i = 0; i < kSagas; ++i) {
    const std::string s = status_of(i);
    CHECK(s == (i % 5 == 0 ? "failed" : "succeed"));
    succeeded += s == "succeed";
  }
  int total = 0;
  std::map<std::string, int> applied = bank.Applied(&total);
  for (const auto& [op, times] : applied) {
    INFO(op);
    CHECK(times == 1);
  }
  CHECK(total == 0);  // every transfer balanced: out -10 and in +10, or both undone
  CHECK(succeeded == kSagas - kSagas / 5);
  for (int i = 1; i < 3; ++i) CHECK(dtxds[i]->Terminate() == 0);
}

TEST_CASE("the database restarts mid-run: nothing crashes, nothing is lost") {
  const std::string backend = testing::ConformanceBackend();
  if (backend == "sqlite") return;  // no server to restart
  const char* restart = std::getenv(backend == "postgresql" ? "DTX_TEST_POSTGRES_RESTART"
                                                            : "DTX_TEST_MYSQL_RESTART");
  const char* required = std::getenv("DTX_REQUIRE_ALL_BACKENDS");
  if (restart == nullptr) {
    REQUIRE((required == nullptr || std::string(required) != "1"));
    WARN("no restart command for " << backend << ": not tested");
    return;
  }
  auto store = testing::FreshStore();
  LocalTransport transport;
  transport.Handle("local://ok", [](const BranchRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return absl::OkStatus();
  });
  CoordinatorOptions options;
  options.store = store.get();
  options.transports = {{"local", &transport}};
  options.lease = absl::Seconds(1);
  options.poll_interval = absl::Milliseconds(100);
  options.retry_interval = absl::Milliseconds(200);
  options.max_backoff = absl::Seconds(1);
  auto coordinator = *Coordinator::Start(options);

  std::atomic<bool> stop{false};
  std::atomic<int> accepted{0}, rejected{0};
  std::thread client([&] {
    for (int i = 0; !stop; ++i) {
      Saga saga(coordinator.get(), "restart-" + std::to_string(i));
      saga.Add("local://ok", "local://ok", "{}").Add("local://ok", "local://ok", "{}");
      absl::Status s = saga.Protocol("local").WaitResult(true).Submit();
      (s.ok() || IsOngoing(s) ? accepted : rejected)++;
      if (!s.ok() && !IsOngoing(s))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  REQUIRE(std::system(restart) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  stop = true;
  client.join();
  INFO("accepted " << accepted << ", refused while the database was down " << rejected);
  CHECK(accepted > 0);

  // Everything stored finishes: nothing is left unfinished once the leases ran out.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  size_t unfinished = 1;
  while (std::chrono::steady_clock::now() < deadline) {
    auto submitted = coordinator->List(0, "submitted", "", 10000);
    auto aborting = coordinator->List(0, "aborting", "", 10000);
    if (submitted.ok() && aborting.ok()) {
      unfinished = submitted->size() + aborting->size();
      if (unfinished == 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(unfinished == 0);
  auto failed = coordinator->List(0, "failed", "", 10000);
  REQUIRE(failed.ok());
  CHECK(failed->empty());
  auto succeeded = coordinator->List(0, "succeed", "", 10000);
  REQUIRE(succeeded.ok());
  CHECK(static_cast<int>(succeeded->size()) >= accepted);
  // And it goes on working.
  Saga after(coordinator.get(), "restart-after");
  CHECK(
      after.Add("local://ok", "", "{}").Protocol("local").WaitResult(true).Submit().ok());
}

}  // namespace
}  // namespace dtx
