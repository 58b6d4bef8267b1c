// HttpBranchServer's plain routes and the request a handler sees, over real sockets on
// 127.0.0.1; the query decoding underneath.
#include "dtx/http/http_branch.h"

#include <httplib.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "http/query_string.h"

namespace dtx {
namespace {

TEST_CASE("query strings: percent escapes, '+' and malformed escapes") {
  CHECK(internal::PercentDecode("a%20b+c", false) == "a b+c");
  CHECK(internal::PercentDecode("a%20b+c", true) == "a b c");
  CHECK(internal::PercentDecode("%e2%82%AC", true) == "\xe2\x82\xac");
  // A '%' without two hex digits after it stays.
  CHECK(internal::PercentDecode("100%", true) == "100%");
  CHECK(internal::PercentDecode("%g1%2", true) == "%g1%2");
  CHECK(internal::PercentDecode("%00x", true) == std::string("\0x", 2));

  const auto params = internal::ParseQuery("gid=g%2F1&&op=action&flag&x=1=2&=v&gid=again");
  REQUIRE(params.size() == 6);
  CHECK(params[0] == std::pair<std::string, std::string>("gid", "g/1"));
  CHECK(params[1] == std::pair<std::string, std::string>("op", "action"));
  CHECK(params[2] == std::pair<std::string, std::string>("flag", ""));
  CHECK(params[3] == std::pair<std::string, std::string>("x", "1=2"));
  CHECK(params[4] == std::pair<std::string, std::string>("", "v"));
  CHECK(params[5] == std::pair<std::string, std::string>("gid", "again"));
}

TEST_CASE("http branch server: plain routes beside branches see the whole request") {
  HttpBranchServer server(HttpBranchServerOptions{.threads = 4, .max_body_bytes = 1024});
  int branch_calls = 0;
  server.Handle("/Step", [&](const BranchInfo& info, const HttpRequest& req) {
    ++branch_calls;
    CHECK(info.gid == "g-1");
    CHECK(info.op == "action");
    CHECK(req.body == R"({"n":1})");
    return absl::OkStatus();
  });
  server.Get("/healthz", [](const HttpRequest&, HttpResponse& res) {
    res.SetBody("ok", "text/plain");
  });
  HttpRequest seen;
  server.Post("/orders/new item", [&](const HttpRequest& req, HttpResponse& res) {
    seen = req;
    res.status = 201;
    res.SetHeader("X-Order", "7");
    res.SetHeader("x-order", "8");  // replaces, ignoring case
    // Dropped: a value that would split the answer, a name that is not a token, and
    // framing the server does itself.
    res.SetHeader("X-Split", "a\r\nX-Evil: 1");
    res.SetHeader("Bad Name", "1");
    res.SetHeader("Transfer-Encoding", "chunked");
    res.SetBody(R"({"id":8})", "application/json");
  });
  const int port = server.Start().value();
  httplib::Client c("127.0.0.1", port);

  httplib::Result health = c.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(health->body == "ok");
  CHECK(health->get_header_value("Content-Type") == "text/plain");

  c.set_url_encode(false);  // the target goes out as written
  httplib::Result created =
      c.Post("/orders/new%20item?who=J%C3%BCrgen+M&n=1&n=2", {{"X-Tenant", "acme"}},
             "buy", "text/plain");
  REQUIRE(created);
  CHECK(created->status == 201);
  CHECK(created->get_header_value("X-Order") == "8");
  CHECK_FALSE(created->has_header("X-Split"));
  CHECK_FALSE(created->has_header("X-Evil"));
  CHECK_FALSE(created->has_header("Transfer-Encoding"));
  CHECK(created->body == R"({"id":8})");
  CHECK(seen.method == "POST");
  CHECK(seen.path == "/orders/new item");
  CHECK(seen.target == "/orders/new%20item?who=J%C3%BCrgen+M&n=1&n=2");
  CHECK(seen.version == 11);
  CHECK(seen.Param("who") == std::optional<std::string_view>("J\xc3\xbcrgen M"));
  CHECK(seen.Param("n") == std::optional<std::string_view>("1"));  // the first
  CHECK_FALSE(seen.Param("N").has_value());                        // case counts
  CHECK(seen.Header("x-tenant") == std::optional<std::string_view>("acme"));
  CHECK(seen.Header("X-TENANT") == std::optional<std::string_view>("acme"));
  CHECK_FALSE(seen.Header("X-Missing").has_value());
  CHECK(seen.body == "buy");
  CHECK(seen.remote_address == "127.0.0.1");
  CHECK(seen.remote_port > 0);

  // A branch route still wants its parameters; a plain route does not.
  httplib::Result step =
      c.Post("/Step?gid=g-1&trans_type=saga&branch_id=01&op=action", R"({"n":1})",
             "application/json");
  REQUIRE(step);
  CHECK(step->status == 200);
  CHECK(absl::StrContains(step->body, "SUCCESS"));
  CHECK(branch_calls == 1);

  // What no route serves, a method a route does not take, a body over the limit.
  httplib::Result none = c.Get("/nowhere");
  REQUIRE(none);
  CHECK(none->status == 404);
  CHECK(absl::StrContains(none->body, "\"message\""));
  httplib::Result wrong = c.Post("/healthz", "", "text/plain");
  REQUIRE(wrong);
  CHECK(wrong->status == 405);
  httplib::Result big = c.Post("/orders/new%20item", std::string(2048, 'x'), "text/plain");
  REQUIRE(big);
  CHECK(big->status == 413);
}

TEST_CASE("http branch server: a handler's exception is a 500 with its message") {
  HttpBranchServer server;
  server.Get("/boom", [](const HttpRequest&, HttpResponse&) -> void {
    throw std::runtime_error("the handler broke");
  });
  server.Handle("/Step", [](const BranchInfo&, const HttpRequest&) -> absl::Status {
    throw std::runtime_error("the branch broke");
  });
  const int port = server.Start().value();
  httplib::Client c("127.0.0.1", port);
  httplib::Result boom = c.Get("/boom");
  REQUIRE(boom);
  CHECK(boom->status == 500);
  CHECK(absl::StrContains(boom->body, "the handler broke"));
  httplib::Result step = c.Get("/Step?gid=g-1&trans_type=saga&branch_id=01&op=action");
  REQUIRE(step);
  CHECK(step->status == 500);
  CHECK(absl::StrContains(step->body, "the branch broke"));
  // The server serves on.
  CHECK(c.Get("/boom"));
}

TEST_CASE(
    "http branch server: its logger hears each call, errors at warn, rate-limited") {
  std::FILE* out = std::tmpfile();
  REQUIRE(out != nullptr);
  StreamLogger logger(LogFormat::kKeyValue, LogLevel::kDebug, out);
  HttpBranchServer server(HttpBranchServerOptions{.logger = &logger});
  server.Handle("/Ok",
                [](const BranchInfo&, const HttpRequest&) { return absl::OkStatus(); });
  server.Handle("/Down", [](const BranchInfo&, const HttpRequest&) {
    return absl::UnavailableError("disk full");
  });
  const int port = server.Start().value();
  httplib::Client c("127.0.0.1", port);
  REQUIRE(c.Get("/Ok?gid=g-1&trans_type=saga&branch_id=01&op=action")->status == 200);
  for (int i = 0; i < 15; ++i) {
    REQUIRE(c.Get("/Down?gid=g-2&trans_type=saga&branch_id=02&op=compensate")->status ==
            503);
  }
  REQUIRE(c.Get("/Ok?gid=g-3")->status == 400);
  server.Stop();
  std::rewind(out);
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), out)) > 0) text.append(buffer, n);
  std::fclose(out);
  const auto count = [&](const std::string& needle) {
    size_t found = 0;
    for (size_t at = text.find(needle); at != std::string::npos;
         at = text.find(needle, at + 1)) {
      ++found;
    }
    return found;
  };
  CHECK(count("level=debug event=branch gid=g-1 trans_type=saga branch_id=01 op=action "
              "path=/Ok result=success") == 1);
  CHECK(count("event=branch gid=g-2") == 15);                       // debug: every call
  CHECK(count("level=warn event=\"branch error\" gid=g-2") == 10);  // then limited
  CHECK(count("error=\"UNAVAILABLE: disk full\"") == 10);
  CHECK(count("level=warn event=\"bad branch request\" path=/Ok") == 1);
}

}  // namespace
}  // namespace dtx
