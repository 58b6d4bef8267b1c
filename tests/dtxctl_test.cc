// dtxctl as an operator runs it, against a real dtxd over 127.0.0.1.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "dtx/http/http_branch.h"
#include "dtx/http/http_submitter.h"
#include "dtx/result.h"
#include "dtx/saga.h"
#include "dtxd_process.h"
#include "test_util.h"

namespace dtx {
namespace {

using nlohmann::json;
using testing::DtxdProcess;

struct Run {
  int exit_code = -1;
  std::string out, err;
};

// Runs dtxctl with `args` (shell words), after `env` (NAME=value words, may be empty).
Run Dtxctl(const std::string& args, const std::string& env = "") {
  const std::string err_path = testing::NewTempDir("dtxctl") + "/stderr";
  const std::string command =
      env + " " + DTX_DTXCTL_BINARY + " " + args + " 2>" + err_path;
  Run run;
  std::FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.out.append(buffer, n);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  std::stringstream text;
  text << err.rdbuf();
  run.err = text.str();
  return run;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

// The table row (a line) that starts with `gid`, or "".
std::string RowOf(const std::string& table, const std::string& gid) {
  for (const std::string& line : Lines(table)) {
    if (absl::StartsWith(line, gid + " ")) return line;
  }
  return "";
}

struct Branches {
  Branches() {
    server.Handle("/ok", [](const BranchInfo&, const dtx::HttpRequest&) {
      return absl::OkStatus();
    });
    server.Handle("/down", [this](const BranchInfo&, const dtx::HttpRequest&) {
      ++down_calls;
      return absl::UnavailableError("inventory database is down");
    });
    base = "http://127.0.0.1:" + std::to_string(server.Start().value());
  }
  HttpBranchServer server;
  std::string base;
  std::atomic<int> down_calls{0};
};

// A one-step saga to `action`, retried only an hour after an error.
absl::Status Submit(Submitter& submitter, const std::string& gid,
                    const std::string& action) {
  return Saga(&submitter, gid)
      .Add(action, "", "{}")
      .RetryInterval(absl::Hours(1))
      .WaitResult(true)
      .Submit();
}

TEST_CASE("dtxctl lists, shows, retries and stops transactions, as tables and as JSON") {
  const std::string dir = testing::NewTempDir("dtxctl-run");
  Branches branches;
  DtxdProcess dtxd(dir + "/dtx.db");
  HttpSubmitter submitter({.server = dtxd.http_base()});
  REQUIRE(Submit(submitter, "ctl-ok", branches.base + "/ok").ok());
  REQUIRE(IsOngoing(Submit(submitter, "ctl-down-1", branches.base + "/down")));
  REQUIRE(IsOngoing(Submit(submitter, "ctl-down-2", branches.base + "/down")));
  const std::string server = "--server " + dtxd.http_base();

  Run list = Dtxctl(server + " list");
  REQUIRE(list.exit_code == 0);
  const std::vector<std::string> lines = Lines(list.out);
  REQUIRE(lines.size() == 4);  // a header and three
  CHECK(absl::StartsWith(lines[0], "GID"));
  CHECK(absl::StrContains(lines[0], "LAST ERROR"));
  CHECK(absl::StartsWith(lines[1], "ctl-down-2 "));  // newest first
  CHECK(absl::StrContains(RowOf(list.out, "ctl-ok"), " succeed "));
  CHECK(absl::StrContains(RowOf(list.out, "ctl-down-1"), " submitted "));
  CHECK(absl::StrContains(RowOf(list.out, "ctl-down-1"), "UNAVAILABLE"));  // clipped

  Run submitted = Dtxctl(server + " --json list --status submitted --type saga");
  REQUIRE(submitted.exit_code == 0);
  json doc = json::parse(submitted.out);
  REQUIRE(doc["transactions"].size() == 2);
  for (const json& t : doc["transactions"]) CHECK(t["status"] == "submitted");
  CHECK(json::parse(Dtxctl(server + " --json list --type tcc").out)["transactions"]
            .empty());
  // Stuck: unfinished and older than --older-than.
  Run stuck = Dtxctl(server + " list --stuck --older-than 0");
  REQUIRE(stuck.exit_code == 0);
  CHECK(Lines(stuck.out).size() == 3);
  CHECK(RowOf(stuck.out, "ctl-ok").empty());
  CHECK(Lines(Dtxctl(server + " list --stuck --older-than 3600").out).size() == 1);
  CHECK(Lines(Dtxctl(server + " list --older-than 3600").out).size() == 1);
  // --older-than reads on past the newest page: after a newer transaction, the one
  // older than a second is on the second page of one.
  absl::SleepFor(absl::Milliseconds(1500));
  REQUIRE(Submit(submitter, "ctl-new", branches.base + "/ok").ok());
  Run old = Dtxctl(server + " list --older-than 1 --limit 1");
  REQUIRE(old.exit_code == 0);
  REQUIRE(Lines(old.out).size() == 2);
  CHECK(absl::StartsWith(Lines(old.out)[1], "ctl-down-2 "));

  Run show = Dtxctl(server + " show ctl-down-1");
  REQUIRE(show.exit_code == 0);
  CHECK(absl::StrContains(show.out, "status:          submitted"));
  CHECK(absl::StrContains(show.out, "last_error:"));
  CHECK(absl::StrContains(show.out, "inventory database is down"));
  CHECK(absl::StrContains(show.out, "next_attempt:"));
  CHECK(absl::StrContains(show.out, "BRANCH"));
  CHECK(absl::StrContains(show.out, branches.base + "/down"));
  json shown = json::parse(Dtxctl(server + " --json show ctl-down-1").out);
  CHECK(shown["transaction"]["gid"] == "ctl-down-1");
  CHECK(shown["branches"].size() == 2);

  // retry: due now, not in an hour; the scan calls the branch again.
  const int calls = branches.down_calls;
  Run retry = Dtxctl(server + " retry ctl-down-1");
  REQUIRE(retry.exit_code == 0);
  CHECK(retry.out == "ctl-down-1: due now\n");
  CHECK(testing::Eventually([&] { return branches.down_calls > calls; }));

  Run stop = Dtxctl(server + " stop ctl-down-2");
  REQUIRE(stop.exit_code == 0);
  json stopped = json::parse(Dtxctl(server + " --json show ctl-down-2").out);
  CHECK(stopped["transaction"]["status"] == "failed");
  CHECK(stopped["transaction"]["rollback_reason"] == "force stopped");

  // Refusals: a clear message and exit status 1.
  Run again = Dtxctl(server + " stop ctl-down-2");
  CHECK(again.exit_code == 1);
  CHECK(absl::StrContains(again.err, "already ended"));
  Run unknown = Dtxctl(server + " show no-such-gid");
  CHECK(unknown.exit_code == 1);
  CHECK(absl::StrContains(unknown.err, "no transaction no-such-gid"));
  CHECK(Dtxctl(server + " show 'bad gid!'").exit_code == 1);
  CHECK(Dtxctl(server + " frobnicate").exit_code != 0);
  Run nobody = Dtxctl("--server http://127.0.0.1:1 list");
  CHECK(nobody.exit_code == 1);
  CHECK(!nobody.err.empty());

  // watch: live counts, a line each interval.
  Run watch = Dtxctl(server + " watch --count 2 --interval 0.2");
  REQUIRE(watch.exit_code == 0);
  const std::vector<std::string> watched = Lines(watch.out);
  REQUIRE(watched.size() == 3);
  CHECK(absl::StrContains(watched[0], "UNFINISHED"));
  Run watch_json = Dtxctl(server + " --json watch --count 2 --interval 0.2");
  REQUIRE(watch_json.exit_code == 0);
  const std::vector<std::string> json_lines = Lines(watch_json.out);
  REQUIRE(json_lines.size() == 2);
  json counts = json::parse(json_lines[1]);
  CHECK(counts["unfinished"] == 1);  // ctl-down-1
  CHECK(counts["started_total"] == 4);
  CHECK(counts["succeeded_total"] == 2);
  CHECK(counts["failed_total"] == 1);
  CHECK(counts.contains("calls_per_second"));
  CHECK(dtxd.Terminate() == 0);
}

TEST_CASE("dtxctl sends the token dtxd wants, from a flag, a file or the environment") {
  const std::string dir = testing::NewTempDir("dtxctl-auth");
  {
    std::ofstream tokens(dir + "/tokens");
    tokens << "ctl-secret-token-1\n";
  }
  DtxdProcess dtxd(dir + "/dtx.db", {"--auth-token-file", dir + "/tokens"});
  const std::string server = "--server " + dtxd.http_base();
  Run without = Dtxctl(server + " list");
  CHECK(without.exit_code == 1);
  CHECK(absl::StrContains(without.err, "401"));
  CHECK(Dtxctl(server + " --token wrong-token list").exit_code == 1);
  CHECK(Dtxctl(server + " --token ctl-secret-token-1 list").exit_code == 0);
  CHECK(Dtxctl(server + " --token-file " + dir + "/tokens list").exit_code == 0);
  CHECK(
      Dtxctl(server + " watch --count 1", "DTXCTL_TOKEN=ctl-secret-token-1").exit_code ==
      0);
  CHECK(
      Dtxctl("list", "DTXCTL_TOKEN=ctl-secret-token-1 DTXCTL_SERVER=" + dtxd.http_base())
          .exit_code == 0);
  CHECK(dtxd.Terminate() == 0);
}

}  // namespace
}  // namespace dtx
