// AsyncHttpClient's name lookups over real sockets on 127.0.0.1, with a lookup that
// stalls on demand (as a DNS server that does not answer).
#include "http/async_http_client.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <string>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "http/http_server.h"

namespace dtx::internal {
namespace {

// What one request got, once it got it.
struct Outcome {
  absl::Notification done;
  absl::StatusOr<ClientResponse> answer = absl::UnknownError("no answer");

  AsyncHttpClient::Done Callback() {
    return [this](absl::StatusOr<ClientResponse> r) {
      answer = std::move(r);
      done.Notify();
    };
  }
};

ClientRequest Get(const std::string& host, int port, absl::Duration timeout) {
  ClientRequest r;
  r.method = "GET";
  r.host = host;
  r.port = std::to_string(port);
  r.target = "/ok";
  r.timeout = timeout;
  return r;
}

TEST_CASE("async http client: a stalled name lookup holds up only the requests to it") {
  HttpServer server;
  server.Get("/ok", [](const dtx::HttpRequest&, dtx::HttpResponse& res) {
    res.SetBody("fine", "text/plain");
  });
  absl::StatusOr<int> port = server.Start("127.0.0.1", 0);
  REQUIRE(port.ok());

  // Shared with the lookup's threads, which may outlive this test when it fails.
  struct Stall {
    absl::Notification release;
    std::atomic<int> slow_lookups{0};
  };
  auto stall = std::make_shared<Stall>();
  Lookup lookup =
      [stall](const std::string& host,
              const std::string& p) -> absl::StatusOr<std::vector<SocketAddress>> {
    if (host == "nowhere.test")
      return absl::UnavailableError("nowhere.test: no such host");
    if (host == "slow.test") {
      ++stall->slow_lookups;
      stall->release.WaitForNotificationWithTimeout(absl::Seconds(10));
      return SystemLookup("127.0.0.1", p);
    }
    return SystemLookup(host, p);
  };
  AsyncHttpClient client(8, lookup);

  Outcome waits, direct, gives_up, unknown;
  client.Send(Get("slow.test", *port, absl::Seconds(5)), waits.Callback());
  client.Send(Get("127.0.0.1", *port, absl::Seconds(5)), direct.Callback());
  client.Send(Get("slow.test", *port, absl::Milliseconds(200)), gives_up.Callback());
  client.Send(Get("nowhere.test", *port, absl::Seconds(5)), unknown.Callback());

  // An IP address needs no lookup, and the loop is not held by the stalled one.
  REQUIRE(direct.done.WaitForNotificationWithTimeout(absl::Seconds(3)));
  REQUIRE(direct.answer.ok());
  CHECK(direct.answer->body == "fine");
  // A name that does not resolve fails alone, with the lookup's message.
  REQUIRE(unknown.done.WaitForNotificationWithTimeout(absl::Seconds(3)));
  CHECK(absl::IsUnavailable(unknown.answer.status()));
  CHECK(absl::StrContains(unknown.answer.status().message(), "no such host"));
  // A request whose deadline passes while its lookup stalls is answered then.
  REQUIRE(gives_up.done.WaitForNotificationWithTimeout(absl::Seconds(3)));
  CHECK(absl::IsUnavailable(gives_up.answer.status()));
  CHECK(absl::StrContains(gives_up.answer.status().message(), "timed out resolving"));
  CHECK_FALSE(waits.done.HasBeenNotified());

  stall->release.Notify();
  REQUIRE(waits.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  REQUIRE(waits.answer.ok());
  CHECK(waits.answer->body == "fine");
  // The addresses are kept: no second lookup.
  Outcome again;
  client.Send(Get("slow.test", *port, absl::Seconds(5)), again.Callback());
  REQUIRE(again.done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  CHECK(again.answer.ok());
  CHECK(stall->slow_lookups == 1);
}

TEST_CASE(
    "async http client: destroyed during a stalled lookup, it answers and returns") {
  auto release = std::make_shared<absl::Notification>();
  Lookup lookup =
      [release](const std::string&,
                const std::string& p) -> absl::StatusOr<std::vector<SocketAddress>> {
    release->WaitForNotificationWithTimeout(absl::Seconds(10));
    return SystemLookup("127.0.0.1", p);
  };
  Outcome pending;
  {
    AsyncHttpClient client(8, lookup);
    client.Send(Get("slow.test", 9, absl::Seconds(30)), pending.Callback());
  }  // does not wait for the lookup
  REQUIRE(pending.done.HasBeenNotified());
  CHECK(absl::IsUnavailable(pending.answer.status()));
  release->Notify();  // the lookup ends in the background; its answer is dropped
}

}  // namespace
}  // namespace dtx::internal
