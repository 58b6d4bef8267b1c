// dtxd's admin page in a real browser: Debian's Chromium, headless, loads /admin from a
// running dtxd, runs its script against dtxd's API, and the test reads the DOM it built.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "dtx/http/http_branch.h"
#include "dtx/http/http_submitter.h"
#include "dtx/result.h"
#include "dtx/saga.h"
#include "dtxd_process.h"
#include "test_util.h"

namespace dtx {
namespace {

using testing::DtxdProcess;

// The DOM of `url` once its scripts have run, as headless Chromium dumps it.
std::string DomOf(const std::string& url) {
  const char* chromium = "/usr/bin/chromium";
  REQUIRE(access(chromium, X_OK) == 0);  // scripts/dtx.sh installs Debian's chromium
  const std::string profile = testing::NewTempDir("chromium-profile");
  const std::string command = absl::StrCat(
      chromium,
      " --headless=new --no-sandbox --disable-gpu --no-first-run --user-data-dir=",
      profile, " --virtual-time-budget=8000 --dump-dom '", url, "' 2>", profile,
      "/stderr");
  std::FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string dom;
  char buffer[8192];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) dom.append(buffer, n);
  const int status = pclose(pipe);
  INFO("chromium's stderr is in " << profile << "/stderr");
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  return dom;
}

// The text of the element with `id` (a leaf), or "<missing>".
std::string TextOf(const std::string& dom, const std::string& id) {
  const size_t at = dom.find("id=\"" + id + "\"");
  if (at == std::string::npos) return "<missing>";
  const size_t open = dom.find('>', at), close = dom.find('<', open);
  return dom.substr(open + 1, close - open - 1);
}

TEST_CASE("the admin page shows a transaction the test submitted, in Chromium") {
  const std::string dir = testing::NewTempDir("admin-page");
  HttpBranchServer branches;
  branches.Handle(
      "/ok", [](const BranchInfo&, const dtx::HttpRequest&) { return absl::OkStatus(); });
  branches.Handle("/down", [](const BranchInfo&, const dtx::HttpRequest&) {
    return absl::UnavailableError("warehouse <b>offline</b>");
  });
  const std::string base = "http://127.0.0.1:" + std::to_string(branches.Start().value());
  DtxdProcess dtxd(dir + "/dtx.db");
  HttpSubmitter submitter({.server = dtxd.http_base()});
  REQUIRE(Saga(&submitter, "admin-ok")
              .Add(base + "/ok", base + "/ok", "{}")
              .WaitResult(true)
              .Submit()
              .ok());
  REQUIRE(IsOngoing(Saga(&submitter, "admin-stuck-1")
                        .Add(base + "/down", base + "/ok", "{}")
                        .RetryInterval(absl::Hours(1))
                        .WaitResult(true)
                        .Submit()));

  const std::string dom =
      DomOf(dtxd.http_base() + "/admin?gid=admin-stuck-1&stuck_age=0");
  CHECK(absl::StrContains(dom, "<body data-loaded=\"true\">"));
  CHECK(absl::StrContains(dom, "id=\"error\" role=\"alert\" hidden=\"\""));  // no error
  // Both transactions listed; the unfinished one among the stuck, with its buttons.
  const size_t list = dom.find("id=\"transactions\""), stuck = dom.find("id=\"stuck\"");
  REQUIRE(list != std::string::npos);
  REQUIRE(stuck != std::string::npos);
  CHECK(dom.find("data-gid=\"admin-ok\"", list) != std::string::npos);
  CHECK(dom.find("data-gid=\"admin-stuck-1\"", list) != std::string::npos);
  const size_t stuck_row = dom.find("data-gid=\"admin-stuck-1\"", stuck);
  REQUIRE(stuck_row < list);
  CHECK(dom.find("Force stop", stuck_row) < list);
  CHECK(dom.find("data-gid=\"admin-ok\"", stuck) > list);  // not stuck
  // The transaction's detail: fields, its error as text (never as markup), its branches.
  CHECK(TextOf(dom, "detail-gid") == "admin-stuck-1");
  CHECK(absl::StrContains(dom, "warehouse &lt;b&gt;offline&lt;/b&gt;"));
  CHECK(!absl::StrContains(dom, "<b>offline</b>"));
  CHECK(absl::StrContains(dom, "data-branch=\"01:action\""));
  CHECK(absl::StrContains(dom, "data-branch=\"01:compensate\""));
  CHECK(absl::StrContains(dom, base + "/down"));
  // The counts, from /metrics.
  CHECK(TextOf(dom, "count-unfinished") == "1");
  CHECK(TextOf(dom, "count-started") == "2");
  CHECK(TextOf(dom, "count-succeeded") == "1");
  CHECK(TextOf(dom, "count-call-errors") == "1");
  CHECK(dtxd.Terminate() == 0);
}

TEST_CASE("the admin page shows nothing without the token dtxd wants") {
  const std::string dir = testing::NewTempDir("admin-page-auth");
  {
    std::ofstream tokens(dir + "/tokens");
    tokens << "admin-page-token-1\n";
  }
  DtxdProcess dtxd(dir + "/dtx.db", {"--auth-token-file", dir + "/tokens"});
  HttpSubmitter submitter(
      {.server = dtxd.http_base(), .auth_token = "admin-page-token-1"});
  REQUIRE(
      Saga(&submitter, "admin-secret").Add("", "", "{}").WaitResult(true).Submit().ok());
  const std::string dom = DomOf(dtxd.http_base() + "/admin");
  CHECK(absl::StrContains(dom, "dtxd wants a token"));
  CHECK(!absl::StrContains(dom, "admin-secret"));
  CHECK(dtxd.Terminate() == 0);
}

}  // namespace
}  // namespace dtx
