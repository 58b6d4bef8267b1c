// HttpTransport and branch serving over real sockets on 127.0.0.1.
#include "dtx/http/http_transport.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "dtx/coordinator.h"
#include "dtx/http/http_branch.h"
#include "dtx/result.h"
#include "dtx/saga.h"
#include "internal/caller_runs.h"
#include "saga_fixture.h"
#include "test_util.h"

namespace dtx {
namespace {

// `blocking`: as a wait_result submitter calls, on this thread (the blocking client);
// otherwise through the asynchronous one.
absl::Status CallOnce(Transport& transport, BranchRequest request,
                      bool blocking = false) {
  absl::Notification done;
  absl::Status result;
  std::optional<internal::CallerRuns> here;
  if (blocking) {
    here.emplace();
    request.runner = &*here;
  }
  transport.Call(request, [&](absl::Status s) {
    result = std::move(s);
    done.Notify();
  });
  if (blocking) {
    here->RunUntil(done);
  } else {
    done.WaitForNotification();
  }
  return result;
}

BranchRequest Request(const std::string& url) {
  BranchRequest r;
  r.url = url;
  r.gid = "g-1";
  r.trans_type = "saga";
  r.branch_id = "01";
  r.op = "action";
  r.timeout = absl::Seconds(3);
  return r;
}

// A TCP server on 127.0.0.1 that answers every connection with `reply` and closes.
class RawServer {
 public:
  explicit RawServer(std::string reply) : reply_(std::move(reply)) {
    fd_ = testing::ListenOnLoopback(&port_);
    thread_ = std::thread([this] {
      while (true) {
        int c = accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        char buf[4096];
        (void)!read(c, buf, sizeof(buf));
        (void)!write(c, reply_.data(), reply_.size());
        close(c);
      }
    });
  }
  ~RawServer() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  std::string reply_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

// A branch handler that holds every call until `n` calls have been inside at once (or
// `limit` passed, so that a failure cannot hang), then answers OK: it shows whether
// `n` calls were in flight together. Counts the calls.
class Gather {
 public:
  Gather(int n, absl::Duration limit) : n_(n), limit_(limit) {}

  BranchHandler Handler() {
    return [this](const BranchInfo&, const dtx::HttpRequest&) {
      absl::MutexLock lock(&mu_);
      ++calls_;
      peak_ = std::max(peak_, ++inside_);
      mu_.AwaitWithTimeout(absl::Condition(this, &Gather::AllCame), limit_);
      --inside_;
      return absl::OkStatus();
    };
  }
  int peak() {
    absl::MutexLock lock(&mu_);
    return peak_;
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  void Reset() {
    absl::MutexLock lock(&mu_);
    peak_ = calls_ = 0;
  }

 private:
  bool AllCame() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return peak_ >= n_; }

  const int n_;
  const absl::Duration limit_;
  absl::Mutex mu_;
  int inside_ ABSL_GUARDED_BY(mu_) = 0;
  int peak_ ABSL_GUARDED_BY(mu_) = 0;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_CASE("branch calls carry the query, body, headers, and read the answer") {
  HttpBranchServer server;
  std::string seen_method, seen_body, seen_header, seen_content_type;
  BranchInfo seen_info;
  server.Handle("/Answer", [&](const BranchInfo& info, const dtx::HttpRequest& req) {
    seen_info = info;
    seen_method = req.method;
    seen_body = req.body;
    seen_header = std::string(req.Header("x-tenant").value_or(""));
    seen_content_type = std::string(req.Header("Content-Type").value_or(""));
    const std::string want = std::string(req.Param("want").value_or(""));
    if (want == "failure") return FailureError("out of stock");
    if (want == "ongoing") return OngoingError("later");
    if (want == "error") return absl::InternalError("db down");
    return absl::OkStatus();
  });
  absl::StatusOr<int> port = server.Start();
  REQUIRE(port.ok());
  const std::string base = "http://127.0.0.1:" + std::to_string(*port) + "/Answer";
  HttpTransport transport;

  BranchRequest r = Request(base);
  r.payload = R"({"num":1})";
  r.headers = {{"x-tenant", "t9"}};
  CHECK(CallOnce(transport, r).ok());
  CHECK(seen_method == "POST");
  CHECK(seen_body == R"({"num":1})");
  CHECK(seen_content_type == "application/json");
  CHECK(seen_header == "t9");
  CHECK(seen_info.gid == "g-1");
  CHECK(seen_info.trans_type == "saga");
  CHECK(seen_info.branch_id == "01");
  CHECK(seen_info.op == "action");

  CHECK(CallOnce(transport, Request(base + "?want=ok")).ok());
  CHECK(seen_method == "GET");  // empty payload
  absl::Status failure = CallOnce(transport, Request(base + "?want=failure"));
  CHECK(IsFailure(failure));
  CHECK(absl::StrContains(failure.message(), "out of stock"));
  CHECK(IsOngoing(CallOnce(transport, Request(base + "?want=ongoing"))));
  absl::Status error = CallOnce(transport, Request(base + "?want=error"));
  CHECK(ResultOf(error) == BranchResult::kError);
  CHECK(absl::StrContains(error.message(), "HTTP 500"));
}

TEST_CASE("a request without the branch parameters gets 400") {
  HttpBranchServer server;
  int runs = 0;
  server.Handle("/Op", [&](const BranchInfo&, const dtx::HttpRequest&) {
    ++runs;
    return absl::OkStatus();
  });
  absl::StatusOr<int> port = server.Start();
  REQUIRE(port.ok());
  httplib::Client client("127.0.0.1", *port);
  httplib::Result res =
      client.Post("/Op?gid=g1&trans_type=saga&op=action", "{}", "application/json");
  REQUIRE(res);
  CHECK(res->status == 400);
  CHECK(absl::StrContains(res->body, "branch_id"));
  CHECK(runs == 0);
}

TEST_CASE("keep-alive connections are reused") {
  HttpBranchServer server;
  std::vector<int> ports;
  server.Handle("/Op", [&](const BranchInfo&, const dtx::HttpRequest& req) {
    ports.push_back(req.remote_port);
    return absl::OkStatus();
  });
  absl::StatusOr<int> port = server.Start();
  REQUIRE(port.ok());
  HttpTransport transport({.threads = 1});
  for (int i = 0; i < 3; ++i) {
    CHECK(
        CallOnce(transport, Request("http://127.0.0.1:" + std::to_string(*port) + "/Op"))
            .ok());
  }
  REQUIRE(ports.size() == 3);
  CHECK(ports[0] == ports[1]);
  CHECK(ports[1] == ports[2]);
}

TEST_CASE("a waiting caller makes the call itself, and the answer's thread the next") {
  HttpBranchServer server;
  server.Handle(
      "/Op", [](const BranchInfo&, const dtx::HttpRequest&) { return absl::OkStatus(); });
  absl::StatusOr<int> port = server.Start();
  REQUIRE(port.ok());
  const std::string url = "http://127.0.0.1:" + std::to_string(*port) + "/Op";
  HttpTransport transport({.threads = 2});
  const std::thread::id me = std::this_thread::get_id();
  std::thread::id first, second, parallel, elsewhere;
  absl::Notification done;
  {
    internal::CallerRuns here;
    BranchRequest request = Request(url);
    request.runner = &here;
    transport.Call(request, [&](absl::Status s) {
      CHECK(s.ok());
      first = std::this_thread::get_id();
      // Issued from inside an answer: runs on this same thread once it returns.
      transport.Call(request, [&](absl::Status s2) {
        CHECK(s2.ok());
        second = std::this_thread::get_id();
        done.Notify();
      });
    });
    // Offered while the caller already holds one: it goes the usual way.
    absl::Notification parallel_done;
    transport.Call(request, [&](absl::Status s) {
      CHECK(s.ok());
      parallel = std::this_thread::get_id();
      parallel_done.Notify();
    });
    parallel_done.WaitForNotification();
    // Offered from another thread: never taken (the runner runs its own thread's).
    absl::Notification elsewhere_done;
    std::thread([&] {
      transport.Call(request, [&](absl::Status s) {
        CHECK(s.ok());
        elsewhere = std::this_thread::get_id();
        elsewhere_done.Notify();
      });
    }).join();
    elsewhere_done.WaitForNotification();
    here.RunUntil(done);
  }
  CHECK(first == me);
  CHECK(second == me);
  CHECK(parallel != me);
  CHECK(elsewhere != me);
  // Without a runner, calls go the usual way.
  std::thread::id pooled;
  absl::Notification pooled_done;
  transport.Call(Request(url), [&](absl::Status) {
    pooled = std::this_thread::get_id();
    pooled_done.Notify();
  });
  pooled_done.WaitForNotification();
  CHECK(pooled != me);
}

TEST_CASE("calls in flight hold no thread: 20 at once on a transport of 2 threads") {
  constexpr int kCalls = 20;
  HttpBranchServer server(/*threads=*/kCalls + 4);
  Gather gather(kCalls, absl::Seconds(5));
  server.Handle("/Gather", gather.Handler());
  absl::StatusOr<int> port = server.Start();
  REQUIRE(port.ok());
  HttpTransport transport({.threads = 2});
  std::atomic<int> ok{0};
  absl::BlockingCounter answered(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    BranchRequest r = Request("http://127.0.0.1:" + std::to_string(*port) + "/Gather");
    r.timeout = absl::Seconds(10);
    transport.Call(r, [&](absl::Status s) {
      ok += s.ok();
      answered.DecrementCount();
    });
  }
  answered.Wait();
  CHECK(ok == kCalls);
  CHECK(gather.peak() == kCalls);
}

TEST_CASE("answers chunked, delimited by close, truncated or stale are read right") {
  const bool blocking = GENERATE(false, true);
  INFO((blocking ? "blocking client" : "asynchronous client"));
  HttpTransport transport;
  auto call = [&](const RawServer& server) {
    return CallOnce(transport,
                    Request("http://127.0.0.1:" + std::to_string(server.port()) + "/x"),
                    blocking);
  };
  // The body decides the result (DTM's fallback), so a decoded body shows.
  RawServer chunked(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4\r\nFAIL\r\n3;x=1\r\nURE\r\n0\r\nX-T: 1\r\n\r\n");
  CHECK(IsFailure(call(chunked)));
  RawServer until_close("HTTP/1.0 200 OK\r\n\r\nresult: ONGOING");
  CHECK(IsOngoing(call(until_close)));
  RawServer truncated("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
  CHECK(absl::IsUnavailable(call(truncated)));
  RawServer bad_chunk("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
  CHECK(absl::IsUnavailable(call(bad_chunk)));
  // Answers are read by Beast's parser: an interim answer is skipped; two
  // Content-Lengths that disagree, a head over 64 KiB and 64 KiB of a chunk size line
  // that has not ended are errors.
  RawServer interim(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nFAILURE");
  CHECK(IsFailure(call(interim)));
  RawServer two_lengths(
      "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 2\r\n\r\nFAILURE");
  CHECK(absl::IsUnavailable(call(two_lengths)));
  // A length no answer has (found by fuzz/http_response_fuzz: Beast 1.74 read on past
  // its body limit and reserved 72 GB): refused before any of it is kept.
  RawServer huge_length("HTTP/1.1 200 OK\r\nContent-Length: 77777777724\r\n\r\nFAILURE");
  absl::Status huge = call(huge_length);
  CHECK(absl::IsUnavailable(huge));
  CHECK(absl::StrContains(huge.message(), "16 MiB"));
  RawServer big_head("HTTP/1.1 200 OK\r\nX-Big: " + std::string(70 * 1024, 'a') +
                     "\r\nContent-Length: 0\r\n\r\n");
  absl::Status big = call(big_head);
  CHECK(absl::IsUnavailable(big));
  CHECK(absl::StrContains(big.message(), "64 KiB"));
  RawServer long_chunk_line("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;" +
                            std::string(70 * 1024, 'x'));
  absl::Status long_line = call(long_chunk_line);
  CHECK(absl::IsUnavailable(long_line));
  CHECK(absl::StrContains(long_line.message(), "64 KiB"));
  // Keeps the connection for reuse, but the server closes it: the next call goes out
  // on a new one.
  RawServer closes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  for (int i = 0; i < 5; ++i) CHECK(call(closes).ok());
  // A header that would split the request is refused, not sent.
  HttpBranchServer server;
  bool reached = false;
  server.Handle("/H", [&](const BranchInfo&, const dtx::HttpRequest&) {
    reached = true;
    return absl::OkStatus();
  });
  absl::StatusOr<int> port = server.Start();
  REQUIRE(port.ok());
  BranchRequest r = Request("http://127.0.0.1:" + std::to_string(*port) + "/H");
  r.headers = {{"x-a", "1\r\nX-Evil: 1"}};
  CHECK(absl::IsInvalidArgument(CallOnce(transport, r, blocking)));
  CHECK(!reached);
  r.headers.clear();
  CHECK(CallOnce(transport, r, blocking).ok());
  CHECK(reached);
  // A name, resolved by the client (each of its addresses tried in turn).
  CHECK(CallOnce(transport, Request("http://localhost:" + std::to_string(*port) + "/H"),
                 blocking)
            .ok());
}

TEST_CASE("garbage, hangs, refused connections and bad URLs are errors, not crashes") {
  const bool blocking = GENERATE(false, true);
  INFO((blocking ? "blocking client" : "asynchronous client"));
  HttpTransport transport;
  RawServer garbage("\x01\x02 this is not HTTP \xff\r\n\r\n");
  absl::Status g = CallOnce(
      transport, Request("http://127.0.0.1:" + std::to_string(garbage.port()) + "/x"),
      blocking);
  CHECK(ResultOf(g) == BranchResult::kError);

  HttpBranchServer slow;
  slow.Handle("/Slow", [](const BranchInfo&, const dtx::HttpRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return absl::OkStatus();
  });
  absl::StatusOr<int> port = slow.Start();
  REQUIRE(port.ok());
  BranchRequest r = Request("http://127.0.0.1:" + std::to_string(*port) + "/Slow");
  r.timeout = absl::Milliseconds(200);
  auto start = std::chrono::steady_clock::now();
  absl::Status hang = CallOnce(transport, r, blocking);
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(absl::IsUnavailable(hang));
  CHECK(waited < std::chrono::milliseconds(1400));  // gave up before the answer came

  // Nothing listens on a port we just bound and closed.
  int closed_port = 0;
  {
    RawServer gone("");
    closed_port = gone.port();
  }
  CHECK(absl::IsUnavailable(CallOnce(
      transport, Request("http://127.0.0.1:" + std::to_string(closed_port) + "/x"),
      blocking)));
  CHECK(
      absl::IsInvalidArgument(CallOnce(transport, Request("ftp://example/x"), blocking)));
  CHECK(
      absl::IsInvalidArgument(CallOnce(transport, Request("http:///nohost"), blocking)));
}

TEST_CASE("a saga over HTTP: garbage and hanging branches are retried, then succeed") {
  HttpBranchServer server;
  std::atomic<int> slow_calls{0};
  server.Handle(
      "/Ok", [](const BranchInfo&, const dtx::HttpRequest&) { return absl::OkStatus(); });
  server.Handle("/SlowOnce", [&](const BranchInfo&, const dtx::HttpRequest&) {
    if (++slow_calls == 1) std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    return absl::OkStatus();
  });
  absl::StatusOr<int> port = server.Start();
  REQUIRE(port.ok());
  const std::string base = "http://127.0.0.1:" + std::to_string(*port);
  RawServer garbage("HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\ntruncated");

  HttpTransport transport;
  testing::SagaFixture f(
      [&](CoordinatorOptions& o) { o.transports["http"] = &transport; });
  absl::Status first = Saga(f.coordinator.get(), "http-hang-1")
                           .Add(base + "/SlowOnce", base + "/Ok", "{}")
                           .Add(base + "/Ok", base + "/Ok", "{}")
                           .RequestTimeout(absl::Milliseconds(300))
                           .RetryInterval(absl::Seconds(1))
                           .WaitResult(true)
                           .Submit();
  CHECK(IsOngoing(first));
  TransactionState state = f.State("http-hang-1");
  CHECK(state.global.status == "submitted");
  CHECK(absl::StrContains(state.global.result, "SlowOnce"));
  f.AdvanceAndRun(absl::Seconds(1));
  CHECK(f.State("http-hang-1").global.status == "succeed");

  absl::Status bad = Saga(f.coordinator.get(), "http-garbage-1")
                         .Add("http://127.0.0.1:" + std::to_string(garbage.port()) + "/x",
                              base + "/Ok", "")
                         .RequestTimeout(absl::Milliseconds(300))
                         .WaitResult(true)
                         .Submit();
  CHECK(IsOngoing(bad));
  state = f.State("http-garbage-1");
  CHECK(state.global.status == "submitted");
  CHECK(!state.global.result.empty());
  CHECK(state.branches[1].status == "prepared");
}

TEST_CASE("a concurrent saga over HTTP: parallel calls, with and without wait_result") {
  constexpr int kSteps = 4;
  HttpBranchServer server(/*threads=*/kSteps + 4);
  Gather gather(kSteps, absl::Seconds(2));  // the steps must run in parallel
  server.Handle("/Par", gather.Handler());
  absl::StatusOr<int> port = server.Start();
  REQUIRE(port.ok());
  const std::string url = "http://127.0.0.1:" + std::to_string(*port) + "/Par";
  HttpTransport transport({.threads = 2});
  testing::SagaFixture f(
      [&](CoordinatorOptions& o) { o.transports["http"] = &transport; });
  for (const bool wait : {true, false}) {
    gather.Reset();
    const std::string gid = wait ? "par-wait" : "par-nowait";
    Saga saga(f.coordinator.get(), gid);
    for (int i = 0; i < kSteps; ++i) saga.Add(url, url, "{}");
    REQUIRE(saga.EnableConcurrent()
                .RequestTimeout(absl::Seconds(5))
                .WaitResult(wait)
                .Submit()
                .ok());
    for (int i = 0; i < 200 && f.State(gid).global.status != "succeed"; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(f.State(gid).global.status == "succeed");
    CHECK(gather.calls() == kSteps);
    CHECK(gather.peak() == kSteps);
  }
}

TEST_CASE("a saga has at most max_calls_per_transaction calls in flight") {
  constexpr int kSteps = 9, kCap = 3;
  HttpBranchServer server(/*threads=*/kSteps + 4);
  // Holds each call 300 ms unless all 9 are inside at once: with the cap they never are.
  Gather gather(kSteps, absl::Milliseconds(300));
  server.Handle("/Par", gather.Handler());
  absl::StatusOr<int> port = server.Start();
  REQUIRE(port.ok());
  const std::string url = "http://127.0.0.1:" + std::to_string(*port) + "/Par";
  HttpTransport transport;
  testing::SagaFixture f([&](CoordinatorOptions& o) {
    o.transports["http"] = &transport;
    o.max_calls_per_transaction = kCap;
  });
  Saga saga(f.coordinator.get(), "capped-1");
  for (int i = 0; i < kSteps; ++i) saga.Add(url, url, "{}");
  REQUIRE(saga.EnableConcurrent()
              .RequestTimeout(absl::Seconds(5))
              .WaitResult(true)
              .Submit()
              .ok());
  CHECK(f.State("capped-1").global.status == "succeed");
  CHECK(gather.calls() == kSteps);
  CHECK(gather.peak() == kCap);
}

TEST_CASE("a coordinator has at most max_calls_in_flight calls out, over all sagas") {
  constexpr int kCap = 2;
  HttpBranchServer server(/*threads=*/12);
  Gather gather(6, absl::Milliseconds(300));  // never 6 at once: each waits 300 ms
  server.Handle("/Par", gather.Handler());
  absl::StatusOr<int> port = server.Start();
  REQUIRE(port.ok());
  const std::string url = "http://127.0.0.1:" + std::to_string(*port) + "/Par";
  HttpTransport transport;
  testing::SagaFixture f([&](CoordinatorOptions& o) {
    o.transports["http"] = &transport;
    o.max_calls_in_flight = kCap;
  });
  for (const char* gid : {"limited-1", "limited-2"}) {
    Saga saga(f.coordinator.get(), gid);
    for (int i = 0; i < 3; ++i) saga.Add(url, url, "{}");
    REQUIRE(saga.EnableConcurrent().RequestTimeout(absl::Seconds(5)).Submit().ok());
  }
  for (int i = 0; i < 300 && (f.State("limited-1").global.status != "succeed" ||
                              f.State("limited-2").global.status != "succeed");
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(f.State("limited-1").global.status == "succeed");
  CHECK(f.State("limited-2").global.status == "succeed");
  CHECK(gather.calls() == 6);
  CHECK(gather.peak() == kCap);
}

TEST_CASE("URLs and headers HTTP cannot carry are refused at submit and at call") {
  HttpTransport transport;
  const std::map<std::string, std::string> none;
  for (const char* good : {"http://127.0.0.1:8080/a?b=c", "https://svc.example/x",
                           "http://[::1]:9/p", "http://h_1.local", "HTTP://x/y#frag"}) {
    INFO(good);
    CHECK(transport.CheckBranch(good, none).ok());
  }
  for (const std::string& bad : std::vector<std::string>{
           "file:///etc/passwd", "http://x/a\r\nX-Evil: 1",
           std::string("http://x/a\0b", 12), "http://x/caf\xc3\xa9", "http://x/a b",
           "http://", "http://:80/x", "http://x:0/a", "http://x:65536/a", "http://x:8o/a",
           "http://u:p@x/a", "http://[::1/a", "http://[zz]/a", "gopher://x/"}) {
    INFO(bad);
    absl::Status s = transport.CheckBranch(bad, none);
    CHECK(absl::IsInvalidArgument(s));
    CHECK(absl::IsInvalidArgument(CallOnce(transport, Request(bad))));
  }
  const std::string url = "http://127.0.0.1:9/a";
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"a b", "1"},
                                                        {"x/y", "1"},
                                                        {"", "1"},
                                                        {"Content-Length", "0"},
                                                        {"transfer-encoding", "chunked"},
                                                        {"Host", "evil"},
                                                        {"x-a", "1\r\nX-Evil: 1"},
                                                        {"x-a", std::string("a\0b", 3)},
                                                        {"x-a", "del\x7f"}}) {
    INFO(name);
    CHECK(absl::IsInvalidArgument(transport.CheckBranch(url, {{name, value}})));
    BranchRequest r = Request(url);
    r.headers = {{name, value}};
    CHECK(absl::IsInvalidArgument(CallOnce(transport, r)));
  }
  CHECK(
      transport.CheckBranch(url, {{"Authorization", "Bearer x"}, {"x-n", "caf\xc3\xa9"}})
          .ok());

  // At submit: refused, nothing stored, nothing called.
  testing::SagaFixture f(
      [&](CoordinatorOptions& o) { o.transports["http"] = &transport; });
  absl::Status refused = Saga(f.coordinator.get(), "bad-url-1")
                             .Add("http://127.0.0.1:1/ok", "", "")
                             .Add("file:///etc/passwd", "", "")
                             .Submit();
  CHECK(absl::IsInvalidArgument(refused));
  CHECK(absl::StrContains(refused.message(), "scheme"));
  CHECK(absl::IsNotFound(f.coordinator->Query("bad-url-1").status()));
  CHECK(absl::IsInvalidArgument(Saga(f.coordinator.get(), "bad-header-1")
                                    .Add("http://127.0.0.1:1/ok", "", "")
                                    .BranchHeader("Content-Length", "5")
                                    .Submit()));
  CHECK(absl::IsNotFound(f.coordinator->Query("bad-header-1").status()));
}

}  // namespace
}  // namespace dtx
