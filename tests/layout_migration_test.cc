// A store database of the two-table layout (trans_global + trans_branch_op), written
// by dtx's own coordinator at commit ac3e3ee (tests/layout1/, README.md there), is
// converted when SociStore opens it, and its unfinished transactions are finished by
// today's coordinator: each branch called that had not succeeded, none called twice.
#include <soci/soci.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "conformance.h"
#include "dtx/clock.h"
#include "dtx/coordinator.h"
#include "dtx/local_transport.h"
#include "dtx/soci/soci_store.h"
#include "test_util.h"

namespace dtx {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs the statements of a schema file (';' ends one at a line's end; "--" lines are
// comments) or of a dump (one per line).
void RunFile(soci::session& sql, const std::string& path) {
  std::string statement;
  std::istringstream in(ReadFile(path));
  for (std::string line; std::getline(in, line);) {
    const size_t text = line.find_first_not_of(' ');
    if (text == std::string::npos || line.compare(text, 2, "--") == 0) continue;
    statement += line + "\n";
    if (line.back() == ';') {
      sql << statement;
      statement.clear();
    }
  }
}

// The old database, ready for a store to open: its URL.
std::string OldDatabase(const std::string& backend) {
  const std::string dir = DTX_LAYOUT1_DIR;
  if (backend == "sqlite") {
    const std::string file = testing::NewTempDir("layout1") + "/old.db";
    std::filesystem::copy_file(dir + "/sqlite.db", file);
    return "sqlite://" + file;
  }
  auto sql = testing::OpenSession();
  *sql << "DROP TABLE IF EXISTS dtx_trans";
  *sql << "DROP TABLE IF EXISTS trans_branch_op";
  *sql << "DROP TABLE IF EXISTS trans_global";
  RunFile(*sql, dir + "/" + backend + "_schema.sql");
  RunFile(*sql, dir + "/" + backend + "_rows.sql");
  return testing::ConformanceUrl();
}

// What the old tables hold, read by plain SQL: per gid "status|options|result|..."
// and its branches "branch_id op status url payload-size create update", in order.
struct OldRows {
  std::map<std::string, std::string> globals;
  std::map<std::string, std::vector<std::string>> branches;
  std::map<std::string, long long> ids;
};

OldRows ReadOldRows(const std::string& url) {
  soci::session sql;
  REQUIRE(OpenSession(sql, url).ok());
  OldRows out;
  {
    long long id = 0, create = 0, update = 0, next = 0, retries = 0, finish = 0;
    soci::indicator finish_ind = soci::i_null;
    std::string gid, type, status, options, custom, owner, result, reason;
    soci::statement st =
        (sql.prepare
             << "SELECT id, gid, trans_type, status, options, custom_data, owner, "
                "result, rollback_reason, create_time, update_time, "
                "next_cron_time, retry_count, finish_time FROM trans_global",
         soci::into(id), soci::into(gid), soci::into(type), soci::into(status),
         soci::into(options), soci::into(custom), soci::into(owner), soci::into(result),
         soci::into(reason), soci::into(create), soci::into(update), soci::into(next),
         soci::into(retries), soci::into(finish, finish_ind));
    st.execute();
    while (st.fetch()) {
      out.ids[gid] = id;
      std::ostringstream s;
      s << type << "|" << status << "|" << options << "|" << custom << "|" << owner << "|"
        << result << "|" << reason << "|" << create << "|" << update << "|" << next << "|"
        << retries << "|" << (finish_ind == soci::i_ok ? finish : -1);
      out.globals[gid] = s.str();
    }
  }
  std::string gid, branch_url, branch_id, op, status;
  long long create = 0, update = 0;
  soci::statement st =
      (sql.prepare << "SELECT gid, url, branch_id, op, status, create_time, "
                      "update_time FROM trans_branch_op ORDER BY id",
       soci::into(gid), soci::into(branch_url), soci::into(branch_id), soci::into(op),
       soci::into(status), soci::into(create), soci::into(update));
  st.execute();
  while (st.fetch()) {
    std::ostringstream s;
    s << branch_id << " " << op << " " << status << " " << branch_url << " " << create
      << " " << update;
    out.branches[gid].push_back(s.str());
  }
  return out;
}

// The same from the store's answers.
std::string GlobalAsOld(const TransGlobal& g, const std::string& options) {
  auto ms = [](absl::Time t) { return absl::ToUnixMillis(t); };
  std::ostringstream s;
  s << g.trans_type << "|" << g.status << "|" << options << "|" << g.custom_data << "|"
    << g.owner << "|" << g.result << "|" << g.rollback_reason << "|" << ms(g.create_time)
    << "|" << ms(g.update_time) << "|" << ms(g.next_cron_time) << "|" << g.retry_count
    << "|" << (g.finish_time == absl::InfinitePast() ? -1 : ms(g.finish_time));
  return s.str();
}
std::string BranchAsOld(const TransBranch& b) {
  std::ostringstream s;
  s << b.branch_id << " " << b.op << " " << b.status << " " << b.url << " "
    << absl::ToUnixMillis(b.create_time) << " " << absl::ToUnixMillis(b.update_time);
  return s.str();
}

// Every branch call: "gid url" -> payload, in the order made.
struct Calls {
  absl::Mutex mu;
  std::vector<std::pair<std::string, std::string>> made ABSL_GUARDED_BY(mu);
  std::map<std::string, std::string> headers ABSL_GUARDED_BY(mu);

  LocalTransport::Handler Record() {
    return [this](const BranchRequest& r) {
      absl::MutexLock lock(&mu);
      made.emplace_back(r.url, r.payload);
      for (const auto& [k, v] : r.headers) headers[r.url + " " + k] = v;
      return absl::OkStatus();
    };
  }
  std::vector<std::string> Urls(const std::string& gid) {
    absl::MutexLock lock(&mu);
    std::vector<std::string> out;
    for (const auto& [url, payload] : made) {
      if (absl::StrContains(url, "/" + gid + "/")) {
        out.push_back(url.substr(url.rfind('/') + 1));
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

TEST_CASE("a database of the two-table layout is converted and its transactions finish") {
  const std::string backend = testing::ConformanceBackend();
  if (backend == "memory") return;
  const std::string url = OldDatabase(backend);
  const OldRows old = ReadOldRows(url);
  REQUIRE(old.globals.size() == 9);

  absl::StatusOr<std::unique_ptr<SociStore>> opened = SociStore::Open({.url = url});
  INFO(opened.status().ToString());
  REQUIRE(opened.ok());
  SociStore& store = **opened;
  {
    soci::session sql;
    REQUIRE(OpenSession(sql, url).ok());
    long long rows = -1;
    sql << "SELECT COUNT(*) FROM dtx_trans", soci::into(rows);
    CHECK(rows == 9);
    // The old tables are gone.
    CHECK_THROWS(sql << "SELECT COUNT(*) FROM trans_global", soci::into(rows));
  }

  // Every field and branch as the old tables held them.
  for (const auto& [gid, fields] : old.globals) {
    INFO(gid);
    absl::StatusOr<TransGlobal> g = store.FindGlobal(gid);
    REQUIRE(g.ok());
    CHECK(g->id == old.ids.at(gid));
    // The options column, JSON text: compared through the old row's own text (the
    // store parses it; its form is OptionsToJson's either way).
    std::string old_options = fields;
    for (int i = 0; i < 2; ++i)
      old_options = old_options.substr(old_options.find('|') + 1);
    old_options = old_options.substr(0, old_options.find('|'));
    CHECK(GlobalAsOld(*g, old_options) == fields);
    absl::StatusOr<std::vector<TransBranch>> branches = store.FindBranches(gid);
    REQUIRE(branches.ok());
    std::vector<std::string> got;
    for (const TransBranch& b : *branches) got.push_back(BranchAsOld(b));
    CHECK(got == old.branches.at(gid));
  }
  {
    absl::StatusOr<std::vector<TransBranch>> branches =
        store.FindBranches("old-saga-concurrent");
    REQUIRE(branches.ok());
    CHECK((*branches)[0].bin_data == std::string("bin\0\x01\xff\xfe", 7));
    CHECK((*branches)[2].bin_data.empty());
  }

  // Today's coordinator finishes them, two days after they were written: every retry
  // is due and the prepared ones have timed out (timeout_to_fail 60 s).
  Calls calls;
  LocalTransport local;
  for (const auto& [gid, rows] : old.branches) {
    for (const std::string& row : rows) {
      std::istringstream fields(row);
      std::string id, op, status, branch_url;
      fields >> id >> op >> status >> branch_url;
      local.Handle(branch_url, calls.Record());
    }
  }
  local.Handle("local://old/query",
               [](const BranchRequest&) { return absl::OkStatus(); });
  ManualClock clock(absl::FromUnixMillis(1796065521071) + absl::Hours(48));
  CoordinatorOptions options;
  options.store = &store;
  options.transports["local"] = &local;
  options.clock = &clock;
  options.poll_interval = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<Coordinator>> coordinator = Coordinator::Start(options);
  REQUIRE(coordinator.ok());
  for (int i = 0; i < 20 && *store.CountUnfinished(absl::InfiniteFuture()) > 0; ++i) {
    REQUIRE((*coordinator)->RunDue().ok());
    clock.Advance(absl::Minutes(10));
  }
  (*coordinator)->Shutdown();
  CHECK(*store.CountUnfinished(absl::InfiniteFuture()) == 0);

  const std::map<std::string, std::string> ended = {
      {"old-saga-done", "succeed"},       {"old-saga-failed", "failed"},
      {"old-saga-midway", "succeed"},     {"old-saga-aborting", "failed"},
      {"old-saga-concurrent", "succeed"}, {"old-tcc-prepared", "failed"},
      {"old-tcc-submitted", "succeed"},   {"old-msg-prepared", "succeed"},
      {"old-msg-submitted", "succeed"}};
  for (const auto& [gid, status] : ended) {
    INFO(gid);
    absl::StatusOr<TransGlobal> g = store.FindGlobal(gid);
    REQUIRE(g.ok());
    CHECK(g->status == status);
  }
  // The branches called: those not yet succeeded, each once.
  using V = std::vector<std::string>;
  CHECK(calls.Urls("old-saga-done").empty());
  CHECK(calls.Urls("old-saga-failed").empty());
  CHECK(calls.Urls("old-saga-midway") == V{"action2"});
  CHECK(calls.Urls("old-saga-aborting") == V{"compensate1"});
  CHECK(calls.Urls("old-saga-concurrent") == V{"action1", "action2", "action3"});
  CHECK(calls.Urls("old-tcc-prepared") == V{"cancel1", "cancel2"});
  CHECK(calls.Urls("old-tcc-submitted") == V{"confirm1", "confirm2"});
  CHECK(calls.Urls("old-msg-prepared") == V{"action1"});
  CHECK(calls.Urls("old-msg-submitted") == V{"action1"});
  {
    absl::MutexLock lock(&calls.mu);
    for (const auto& [called, payload] : calls.made) {
      if (called == "local://old/old-saga-concurrent/action1") {
        CHECK(payload == std::string("bin\0\x01\xff\xfe", 7));
      }
    }
    CHECK(calls.headers["local://old/old-saga-concurrent/action3 X-Tenant"] == "t1");
  }
  // Opened again: nothing left to convert, nothing changed.
  opened->reset();
  absl::StatusOr<std::unique_ptr<SociStore>> again = SociStore::Open({.url = url});
  REQUIRE(again.ok());
  absl::StatusOr<std::vector<TransGlobal>> listed = (*again)->List(0, "", "", 100);
  REQUIRE(listed.ok());
  CHECK(listed->size() == 9);
}

TEST_CASE("two stores opening one old database at once convert it once") {
  const std::string backend = testing::ConformanceBackend();
  if (backend == "memory") return;
  const std::string url = OldDatabase(backend);
  const OldRows old = ReadOldRows(url);
  absl::Status opened[2];
  std::thread a([&] { opened[0] = SociStore::Open({.url = url}).status(); });
  std::thread b([&] { opened[1] = SociStore::Open({.url = url}).status(); });
  a.join();
  b.join();
  INFO(opened[0].ToString() << " / " << opened[1].ToString());
  CHECK(opened[0].ok());
  CHECK(opened[1].ok());
  absl::StatusOr<std::unique_ptr<SociStore>> store = SociStore::Open({.url = url});
  REQUIRE(store.ok());
  absl::StatusOr<std::vector<TransGlobal>> listed = (*store)->List(0, "", "", 100);
  REQUIRE(listed.ok());
  CHECK(listed->size() == old.globals.size());
  for (const auto& [gid, rows] : old.branches) {
    INFO(gid);
    CHECK((*store)->FindBranches(gid)->size() == rows.size());
  }
}

TEST_CASE(
    "a conversion cut short after its rename resumes and leaves copied rows alone") {
  const std::string backend = testing::ConformanceBackend();
  if (backend == "memory") return;
  const std::string url = OldDatabase(backend);
  // The reference: a whole conversion.
  std::map<std::string, std::string> reference;
  auto snapshot = [&](SociStore& store) {
    std::map<std::string, std::string> out;
    absl::StatusOr<std::vector<TransGlobal>> all = store.List(0, "", "", 100);
    REQUIRE(all.ok());
    for (const TransGlobal& g : *all) {
      std::string text = std::to_string(g.id) + " " + GlobalAsOld(g, "");
      absl::StatusOr<std::vector<TransBranch>> branches = store.FindBranches(g.gid);
      REQUIRE(branches.ok());
      for (const TransBranch& b : *branches) {
        text += "\n" + BranchAsOld(b) + " " + absl::BytesToHexString(b.bin_data);
      }
      out[g.gid] = text;
    }
    return out;
  };
  {
    absl::StatusOr<std::unique_ptr<SociStore>> store = SociStore::Open({.url = url});
    REQUIRE(store.ok());
    reference = snapshot(**store);
  }
  REQUIRE(reference.size() == 9);
  // The state a crash leaves after the rename and some batches: the old tables, under
  // their new names, hold every transaction, four of which are in dtx_trans already.
  {
    soci::session sql;
    REQUIRE(OpenSession(sql, url).ok());
    sql << "DELETE FROM dtx_trans WHERE gid NOT IN ('old-saga-done', 'old-saga-failed', "
           "'old-tcc-prepared', 'old-msg-submitted')";
    if (backend == "sqlite") {
      const std::string copy = testing::NewTempDir("layout1-copy") + "/old.db";
      std::filesystem::copy_file(std::string(DTX_LAYOUT1_DIR) + "/sqlite.db", copy);
      sql << "ATTACH DATABASE '" + copy + "' AS fixture";
      sql << "CREATE TABLE dtx_old_global AS SELECT * FROM fixture.trans_global";
      sql << "CREATE TABLE dtx_old_branch AS SELECT * FROM fixture.trans_branch_op";
      sql << "DETACH DATABASE fixture";
    } else {
      const std::string dir = DTX_LAYOUT1_DIR;
      RunFile(sql, dir + "/" + backend + "_schema.sql");
      RunFile(sql, dir + "/" + backend + "_rows.sql");
      if (backend == "mysql") {
        sql << "RENAME TABLE trans_global TO dtx_old_global, trans_branch_op TO "
               "dtx_old_branch";
      } else {
        sql << "ALTER TABLE trans_global RENAME TO dtx_old_global";
        sql << "ALTER TABLE trans_branch_op RENAME TO dtx_old_branch";
      }
    }
  }
  absl::StatusOr<std::unique_ptr<SociStore>> resumed = SociStore::Open({.url = url});
  INFO(resumed.status().ToString());
  REQUIRE(resumed.ok());
  const std::map<std::string, std::string> after = snapshot(**resumed);
  REQUIRE(after.size() == reference.size());
  for (const auto& [gid, text] : reference) {
    INFO(gid);
    CHECK(after.at(gid) == text);
  }
  soci::session sql;
  REQUIRE(OpenSession(sql, url).ok());
  long long n = 0;
  CHECK_THROWS(sql << "SELECT COUNT(*) FROM dtx_old_global", soci::into(n));
}

}  // namespace
}  // namespace dtx
