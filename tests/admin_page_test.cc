// dtxd's admin page in a real browser: Debian's Chromium, headless, loads /admin from a
// running dtxd, runs its script against dtxd's API, and the test reads the DOM it built;
// through ChromeDriver (WebDriver) the test clicks Force stop and Retry now.
#include <httplib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

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

using nlohmann::json;
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

// A WebDriver session in headless Chromium through Debian's chromedriver: the W3C
// WebDriver protocol over HTTP on 127.0.0.1.
class Browser {
 public:
  Browser() {
    const char* driver = "/usr/bin/chromedriver";
    REQUIRE(access(driver, X_OK) == 0);  // scripts/dtx.sh installs chromium-driver
    int port = 0;
    close(testing::ListenOnLoopback(&port));
    // Its output goes to a file: it writes on after its first line, and a closed pipe
    // would kill it.
    const std::string log = testing::NewTempDir("chromedriver") + "/chromedriver.log";
    driver_ = std::make_unique<testing::ChildProcess>(std::vector<std::string>{
        "/bin/sh", "-c",
        std::string("echo started; exec ") + driver + " --port=" + std::to_string(port) +
            " > " + log + " 2>&1"});
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port);
    client_->set_read_timeout(30, 0);
    REQUIRE(testing::Eventually([&] {
      httplib::Result status = client_->Get("/status");
      return status && status->status == 200;
    }));
    const std::string profile = testing::NewTempDir("chromedriver-profile");
    const json session =
        Call("/session", {{"capabilities",
                           {{"alwaysMatch",
                             {{"goog:chromeOptions",
                               {{"binary", "/usr/bin/chromium"},
                                {"args",
                                 {"--headless=new", "--no-sandbox", "--disable-gpu",
                                  "--user-data-dir=" + profile}}}}}}}}});
    session_ = session["sessionId"].get<std::string>();
  }
  ~Browser() {
    if (!session_.empty()) client_->Delete(("/session/" + session_).c_str());
    driver_->Terminate();  // SIGTERM: chromedriver reaps its browser before it exits
  }

  void Open(const std::string& url) { Call(Path("/url"), {{"url", url}}); }
  // Clicks the element `css` selects, once the page shows it (10 s at most). The page
  // re-renders its tables when it refreshes: an element found just before is stale
  // (404), and is looked up again.
  void Click(const std::string& css) {
    REQUIRE(testing::Eventually(
        [&] {
          httplib::Result found = client_->Post(
              Path("/element").c_str(),
              json{{"using", "css selector"}, {"value", css}}.dump(), "application/json");
          if (!found || found->status != 200) return false;
          const std::string element =
              json::parse(found->body)["value"].begin().value().get<std::string>();
          httplib::Result clicked = client_->Post(
              Path("/element/" + element + "/click").c_str(), "{}", "application/json");
          return clicked && clicked->status == 200;
        },
        absl::Seconds(10)));
  }
  // The text of the alert or confirm() the page shows, then accepts it.
  std::string AcceptAlert() {
    std::string text;
    REQUIRE(testing::Eventually([&] {
      httplib::Result r = client_->Get(Path("/alert/text").c_str());
      if (!r || r->status != 200) return false;
      text = json::parse(r->body)["value"].get<std::string>();
      return true;
    }));
    Call(Path("/alert/accept"), json::object());
    return text;
  }

 private:
  std::string Path(const std::string& rest) const {
    return "/session/" + session_ + rest;
  }
  // POSTs `body` to `path`; REQUIREs a 200 and returns its value.
  json Call(const std::string& path, const json& body) {
    httplib::Result r = client_->Post(path.c_str(), body.dump(), "application/json");
    INFO("POST " << path);
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 200);
    return json::parse(r->body)["value"];
  }

  std::unique_ptr<testing::ChildProcess> driver_;
  std::unique_ptr<httplib::Client> client_;
  std::string session_;
};

TEST_CASE("Force stop and Retry now, clicked on the admin page in Chromium, act") {
  const std::string dir = testing::NewTempDir("admin-page-click");
  HttpBranchServer branches;
  std::atomic<int> down_calls{0};
  branches.Handle("/down", [&](const BranchInfo&, const dtx::HttpRequest&) {
    ++down_calls;
    return absl::UnavailableError("warehouse offline");
  });
  const std::string base = "http://127.0.0.1:" + std::to_string(branches.Start().value());
  DtxdProcess dtxd(dir + "/dtx.db");
  HttpSubmitter submitter({.server = dtxd.http_base()});
  for (const char* gid : {"click-stop", "click-retry"}) {
    REQUIRE(IsOngoing(Saga(&submitter, gid)
                          .Add(base + "/down", "", "{}")
                          .RetryInterval(absl::Hours(1))
                          .WaitResult(true)
                          .Submit()));
  }
  const auto status_of = [&](const std::string& gid) {
    absl::StatusOr<TransactionState> state = submitter.Query(gid);
    return state.ok() ? state->global.status : state.status().ToString();
  };

  Browser browser;
  browser.Open(dtxd.http_base() + "/admin?stuck_age=0");
  browser.Click("#stuck tr[data-gid='click-stop'] button.stop");
  CHECK(browser.AcceptAlert() == "End click-stop as failed now, without compensating?");
  CHECK(testing::Eventually([&] { return status_of("click-stop") == "failed"; }));
  CHECK(submitter.Query("click-stop")->global.rollback_reason == "force stopped");

  const int calls = down_calls;
  browser.Click("#stuck tr[data-gid='click-retry'] button.retry");
  CHECK(testing::Eventually([&] { return down_calls > calls; }));  // due now, not in 1 h
  CHECK(status_of("click-retry") == "submitted");
  CHECK(dtxd.Terminate() == 0);
}

}  // namespace
}  // namespace dtx
