// HttpServer over real sockets on 127.0.0.1: what it parses, what it refuses, how
// connections live and end.
#include "http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace dtx::internal {
namespace {

// A connection to 127.0.0.1:port that sends raw bytes and reads what comes back.
class Conn {
 public:
  explicit Conn(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    timeval limit{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  }
  ~Conn() { close(fd_); }
  int fd() const { return fd_; }

  void Send(const std::string& bytes) {
    REQUIRE(send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(bytes.size()));
  }
  // Reads until `n` answers have come whole (each ends with its Content-Length body),
  // or the peer closes, or 5 s pass. Returns all it read.
  std::string ReadAnswers(int n) {
    std::string in;
    char buf[4096];
    while (Complete(in) < n) {
      const ssize_t k = recv(fd_, buf, sizeof(buf), 0);
      if (k <= 0) break;
      in.append(buf, static_cast<size_t>(k));
    }
    return in;
  }
  // True when the server closes its side within `within` (recv sees the end).
  bool SeesEnd(int within_ms = 1000) {
    timeval limit{within_ms / 1000, (within_ms % 1000) * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    char buf[256];
    while (true) {
      const ssize_t k = recv(fd_, buf, sizeof(buf), 0);
      if (k == 0) return true;
      if (k < 0) return false;
    }
  }

 private:
  // How many whole answers `in` holds.
  static int Complete(const std::string& in) {
    int n = 0;
    size_t pos = 0;
    while (true) {
      const size_t head = in.find("\r\n\r\n", pos);
      if (head == std::string::npos) return n;
      size_t length = 0;
      const size_t at = in.find("Content-Length: ", pos);
      if (at != std::string::npos && at < head) {
        length = std::stoul(in.substr(at + 16));
      }
      if (in.size() < head + 4 + length) return n;
      pos = head + 4 + length;
      ++n;
    }
  }
  int fd_ = -1;
};

int Count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

// Sends `request` on a new connection and returns the one answer; checks that the
// server then closes the connection.
std::string AnswerThenEnd(int port, const std::string& request) {
  Conn c(port);
  c.Send(request);
  std::string got = c.ReadAnswers(1);
  CHECK(c.SeesEnd());
  return got;
}

// A server with /echo (GET and POST: answers method, path, the param "q" and the
// body), /throw (POST: throws) and /nostatus (GET: sets only a body).
struct EchoServer {
  explicit EchoServer(HttpServerOptions options = {}) : server(options) {
    auto echo = [](const HttpRequest& req, HttpResponse& res) {
      res.status = 201;
      res.SetBody(
          absl::StrCat(req.method, " ", req.path, " q=", std::string(req.Param("q").value_or("")),
                       " body=", req.body, " from=", req.remote_address),
          "text/plain");
    };
    server.Get("/echo", echo);
    server.Post("/echo", echo);
    server.Post("/throw", [](const HttpRequest&, HttpResponse&) {
      throw std::runtime_error("handler broke");
    });
    server.Get("/nostatus", [](const HttpRequest&, HttpResponse& res) {
      res.body = "plain";
    });
    absl::StatusOr<int> bound = server.Start("127.0.0.1", 0);
    REQUIRE(bound.ok());
    port = *bound;
  }
  HttpServer server;
  int port = 0;
};

TEST_CASE("http server: requests on one keep-alive connection, pipelined or not") {
  EchoServer s;
  Conn c(s.port);
  c.Send("POST /echo?q=a%20b&x=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
  std::string first = c.ReadAnswers(1);
  CHECK(absl::StartsWith(first, "HTTP/1.1 201 Created\r\n"));
  CHECK(absl::StrContains(first, "Content-Type: text/plain\r\n"));
  CHECK(absl::StrContains(first, "POST /echo q=a b body=hello from=127.0.0.1"));
  CHECK_FALSE(absl::StrContains(first, "Connection: close"));

  // Two requests in one write, the second a GET without a body.
  c.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nonePOST /echo "
      "HTTP/1.1\r\nHost: t\r\n"
      "content-length: 3\r\n\r\ntwoGET /nostatus HTTP/1.1\r\nHost: t\r\n\r\n");
  std::string next = c.ReadAnswers(3);
  CHECK(absl::StrContains(next, "body=one"));
  CHECK(absl::StrContains(next, "body=two"));
  CHECK(absl::StrContains(next, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain"));
}

TEST_CASE("http server: chunked bodies and Expect: 100-continue") {
  EchoServer s;
  Conn c(s.port);
  c.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4;ext=1\r\nchun\r\n3\r\nked\r\n0\r\nTrailer: x\r\n\r\n");
  CHECK(absl::StrContains(c.ReadAnswers(1), "body=chunked"));

  // The same with every byte in its own write: a line's CR and LF may come apart.
  const std::string chunked =
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: "
      "chunked\r\n\r\n3\r\nbit\r\n0\r\n\r\n";
  for (char byte : chunked) {
    c.Send(std::string(1, byte));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(absl::StrContains(c.ReadAnswers(1), "body=bit"));

  c.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: "
      "4\r\n\r\n");
  std::string go = c.ReadAnswers(1);
  CHECK(go == "HTTP/1.1 100 Continue\r\n\r\n");
  c.Send("late");
  CHECK(absl::StrContains(c.ReadAnswers(1), "body=late"));
}

TEST_CASE("http server: its own errors are JSON, and a refused request closes") {
  EchoServer s({.max_body_bytes = 10});
  {
    Conn c(s.port);
    c.Send(
        "GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\nPUT /echo HTTP/1.1\r\nHost: "
        "t\r\n\r\nPOST /throw "
        "HTTP/1.1\r\nHost: t\r\n\r\n");
    std::string got = c.ReadAnswers(3);
    CHECK(absl::StrContains(got, "HTTP/1.1 404 Not Found\r\n"));
    CHECK(absl::StrContains(got, R"({"message":"no such API"})"));
    CHECK(absl::StrContains(got, "HTTP/1.1 405 Method Not Allowed\r\n"));
    CHECK(absl::StrContains(got, "HTTP/1.1 500 Internal Server Error\r\n"));
    CHECK(absl::StrContains(got, "handler broke"));
    CHECK(Count(got, "Content-Type: application/json") == 3);
    // None of those ends the connection.
    c.Send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(absl::StrContains(c.ReadAnswers(1), "201 Created"));
  }
  // Over max_body_bytes: 413 without reading the body, then the end.
  std::string got = AnswerThenEnd(
      s.port, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world");
  CHECK(absl::StartsWith(got, "HTTP/1.1 413 Payload Too Large\r\n"));
  CHECK(absl::StrContains(got, "Connection: close\r\n"));
  CHECK(absl::StartsWith(
      AnswerThenEnd(s.port,
                    "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: "
                    "chunked\r\n\r\n8\r\n12345678\r\n8\r\n"
                    "12345678\r\n0\r\n\r\n"),
      "HTTP/1.1 413 "));
  for (const char* garbage :
       {"NONSENSE\r\n\r\n", "GET /echo HTTP/2.0\r\n\r\n",
        "GET /echo HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: ten\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
    CAPTURE(garbage);
    std::string answer = AnswerThenEnd(s.port, garbage);
    CHECK(absl::StartsWith(answer, "HTTP/1.1 400 Bad Request\r\n"));
    CHECK(absl::StrContains(answer, R"({"message":)"));
  }
  // A head that never ends is cut off at 64 KiB, with 431.
  {
    Conn c(s.port);
    c.Send("GET /echo HTTP/1.1\r\nHost: t\r\n");
    const std::string header = "X-Long: " + std::string(8000, 'a') + "\r\n";
    for (int i = 0; i < 9; ++i) c.Send(header);
    CHECK(absl::StartsWith(c.ReadAnswers(1),
                           "HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  }
  // The server still serves.
  Conn c(s.port);
  c.Send("GET /echo?q=1 HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(absl::StrContains(c.ReadAnswers(1), "q=1"));
}

// Request smuggling: a request that a proxy in front could frame differently is
// refused, and its connection ends (RFC 9112, 6.3 and 3.2).
TEST_CASE("http server: what a proxy could read differently is refused") {
  EchoServer s;
  for (const char* smuggled :
       {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: "
        "chunked\r\n\r\n0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: "
        "3\r\n\r\n0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: "
        "48\r\n\r\nabc",
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +3\r\n\r\nabc",
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -3\r\n\r\nabc",
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc"
        "\r\n0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: "
        "chunked\r\n\r\n+3\r\nabc\r\n"
        "0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "GET /echo HTTP/1.1\r\n\r\n", "GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET /echo HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n",
        "GET /echo HTTP/1.1\r\nHost: t\r\nX-A: a\x01b\r\n\r\n",
        // Beast alone takes these: identical lengths twice, a list, a coding list,
        // and a coding on HTTP/1.0.
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: "
        "3\r\n\r\nabc",
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 3\r\n\r\nabc",
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        "0\r\n\r\n",
        "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"}) {
    CAPTURE(smuggled);
    const std::string answer = AnswerThenEnd(s.port, smuggled);
    CHECK(absl::StartsWith(answer, "HTTP/1.1 400 Bad Request\r\n"));
    CHECK(absl::StrContains(answer, "Connection: close\r\n"));
  }
  // A chunk size line (or trailer) that never ends is cut off at 64 KiB.
  {
    Conn c(s.port);
    c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1;");
    for (int i = 0; i < 9; ++i) c.Send(std::string(8000, 'a'));
    const std::string answer = c.ReadAnswers(1);
    CHECK(absl::StartsWith(answer, "HTTP/1.1 400 Bad Request\r\n"));
    CHECK(absl::StrContains(answer, "chunk size line"));
  }
  // HTTP/1.0 needs no Host; the server still serves on a new connection.
  Conn c(s.port);
  c.Send("GET /echo?q=old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  CHECK(absl::StrContains(c.ReadAnswers(1), "q=old"));
}

TEST_CASE(
    "http server: Connection: close and HTTP/1.0 end the connection after the answer") {
  EchoServer s;
  std::string got =
      AnswerThenEnd(s.port, "GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  CHECK(absl::StrContains(got, "Connection: close\r\n"));
  CHECK(absl::StrContains(got, "GET /echo"));
  CHECK(absl::StrContains(AnswerThenEnd(s.port, "GET /echo HTTP/1.0\r\n\r\n"),
                          "GET /echo"));
  {
    Conn c(s.port);
    c.Send("GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK(absl::StrContains(c.ReadAnswers(1), "GET /echo"));
    c.Send("GET /echo?q=again HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK(absl::StrContains(c.ReadAnswers(1), "q=again"));
  }
}

TEST_CASE("http server: an idle connection is closed after idle_timeout") {
  EchoServer s({.idle_timeout = absl::Milliseconds(200)});
  Conn c(s.port);
  c.Send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(absl::StrContains(c.ReadAnswers(1), "201 Created"));
  CHECK(c.SeesEnd(/*within_ms=*/3000));
}

TEST_CASE(
    "http server: a request trickling in past request_timeout loses its connection") {
  EchoServer s({.request_timeout = absl::Milliseconds(300)});
  Conn c(s.port);
  // A byte every 50 ms: each recv gets something, well inside idle_timeout (5 s).
  const std::string request =
      "GET /echo?q=slow HTTP/1.1\r\nHost: t\r\nX-Pad: " + std::string(40, 'a') +
      "\r\n\r\n";
  const auto t0 = std::chrono::steady_clock::now();
  bool cut = false;
  for (char byte : request) {
    if (send(c.fd(), &byte, 1, MSG_NOSIGNAL) != 1) {
      cut = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Closed at the limit: the sends after it fail, and no answer came.
  CHECK(cut);
  CHECK(c.ReadAnswers(1).empty());
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
  // The same request sent at once is served.
  Conn quick(s.port);
  quick.Send(request);
  CHECK(absl::StrContains(quick.ReadAnswers(1), "q=slow"));
}

TEST_CASE(
    "http server: past `threads`, a connection waits for a busy one, not an idle one") {
  absl::Notification inside, release;
  HttpServer server({.threads = 1});
  server.Get("/slow", [&](const HttpRequest&, HttpResponse& res) {
    inside.Notify();
    release.WaitForNotificationWithTimeout(absl::Seconds(5));
    res.SetBody("slow done", "text/plain");
  });
  server.Get("/echo", [](const HttpRequest& req, HttpResponse& res) {
    res.SetBody("q=" + std::string(req.Param("q").value_or("")), "text/plain");
  });
  absl::StatusOr<int> port = server.Start("127.0.0.1", 0);
  REQUIRE(port.ok());

  // The first connection holds the only thread in a handler: the second is accepted by
  // the kernel but not served meanwhile.
  Conn first(*port);
  first.Send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
  REQUIRE(inside.WaitForNotificationWithTimeout(absl::Seconds(5)));
  // Connected and sent here (Conn asserts, and Catch's macros are not thread-safe);
  // the answer is awaited on a thread.
  Conn second_conn(*port);
  second_conn.Send("GET /echo?q=second HTTP/1.1\r\nHost: t\r\n\r\n");
  std::atomic<bool> answered{false};
  std::thread second(
      [&] { answered = absl::StrContains(second_conn.ReadAnswers(1), "q=second"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK_FALSE(answered.load());

  // Answered, the first connection idles, kept alive by its client: it is closed to
  // make room, long before its idle_timeout (5 s).
  const auto t0 = std::chrono::steady_clock::now();
  release.Notify();
  CHECK(absl::StrContains(first.ReadAnswers(1), "slow done"));
  second.join();
  CHECK(answered.load());
  CHECK(first.SeesEnd());
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
}

TEST_CASE(
    "http server: Stop() ends idle connections and waits for a request in a handler") {
  absl::Notification inside, release;
  HttpServer server;
  server.Get("/slow", [&](const HttpRequest&, HttpResponse& res) {
    inside.Notify();
    release.WaitForNotificationWithTimeout(absl::Seconds(5));
    res.SetBody("done", "text/plain");
  });
  absl::StatusOr<int> port = server.Start("127.0.0.1", 0);
  REQUIRE(port.ok());

  Conn idle(*port);
  idle.Send("GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(absl::StrContains(idle.ReadAnswers(1), "404"));

  Conn busy(*port);
  busy.Send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
  REQUIRE(inside.WaitForNotificationWithTimeout(absl::Seconds(5)));
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server.Stop();
    stopped = true;
  });
  CHECK(idle.SeesEnd());  // the idle one is closed at once
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(stopped.load());  // the busy one is still being answered
  release.Notify();
  CHECK(absl::StrContains(busy.ReadAnswers(1), "done"));
  stopper.join();
  CHECK(stopped.load());
  // Nothing listens any more.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(*port));
  CHECK(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0);
  close(fd);
}

TEST_CASE("http server: one client address holds at most max_connections_per_address") {
  EchoServer s({.threads = 8, .max_connections_per_address = 2});
  Conn first(s.port), second(s.port);
  first.Send("GET /echo?q=1 HTTP/1.1\r\nHost: t\r\n\r\n");
  second.Send("GET /echo?q=2 HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(absl::StrContains(first.ReadAnswers(1), "q=1"));
  CHECK(absl::StrContains(second.ReadAnswers(1), "q=2"));
  {
    Conn third(s.port);  // both held: refused, and told why
    const std::string answer = third.ReadAnswers(1);
    CHECK(absl::StartsWith(answer, "HTTP/1.1 503 Service Unavailable\r\n"));
    CHECK(absl::StrContains(answer, "too many connections from this address"));
    CHECK(third.SeesEnd());
  }
  // Once one is gone, a new one is served.
  first.Send("GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  first.ReadAnswers(1);
  CHECK(first.SeesEnd());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Conn fourth(s.port);
  fourth.Send("GET /echo?q=4 HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(absl::StrContains(fourth.ReadAnswers(1), "q=4"));
}

TEST_CASE("http server: an address that cannot be bound is kUnavailable") {
  EchoServer taken;
  HttpServer second;
  absl::StatusOr<int> port = second.Start("127.0.0.1", taken.port);
  CHECK(absl::IsUnavailable(port.status()));
  HttpServer bad;
  CHECK(absl::IsUnavailable(bad.Start("no-such-host.invalid", 0).status()));
}

TEST_CASE("http server: a parked request holds no thread, and its reply serves on") {
  // One thread. /later parks every request; /now replies before its handler returns.
  HttpServer server({.threads = 1});
  absl::Mutex mu;
  std::vector<HttpReply> replies;
  server.PostAsync("/later", [&](const HttpRequest& req, HttpReply reply) {
    absl::MutexLock lock(&mu);
    replies.push_back(std::move(reply));
  });
  server.PostAsync("/now", [](const HttpRequest& req, HttpReply reply) {
    HttpResponse res;
    res.SetBody("now " + req.body, "text/plain");
    reply(res);
    reply(HttpResponse());  // a second reply does nothing
  });
  server.PostAsync("/throws", [](const HttpRequest&, HttpReply) {
    throw std::runtime_error("async handler broke");
  });
  server.Get("/echo", [](const HttpRequest& req, HttpResponse& res) {
    res.SetBody("q=" + std::string(req.Param("q").value_or("")), "text/plain");
  });
  const int port = server.Start("127.0.0.1", 0).value();

  // Three requests parked on three connections, more than the one thread...
  std::vector<std::unique_ptr<Conn>> parked;
  for (int i = 0; i < 3; ++i) {
    parked.push_back(std::make_unique<Conn>(port));
    parked.back()->Send(absl::StrCat("POST /later HTTP/1.1\r\nHost: t\r\n",
                                     "Content-Length: 1\r\n\r\n", i));
  }
  auto parked_count = [&] {
    absl::MutexLock lock(&mu);
    return replies.size();
  };
  for (int i = 0; i < 500 && parked_count() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(parked_count() == 3);
  // ...and the thread still serves others, plain and asynchronous alike.
  Conn other(port);
  other.Send("GET /echo?q=free HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(absl::StrContains(other.ReadAnswers(1), "q=free"));
  other.Send("POST /now HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi");
  CHECK(absl::StrContains(other.ReadAnswers(1), "now hi"));
  other.Send("POST /throws HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  const std::string thrown = other.ReadAnswers(1);
  CHECK(absl::StrContains(thrown, "500"));
  CHECK(absl::StrContains(thrown, "async handler broke"));

  // Replied from another thread, each parked request gets its answer, and its
  // connection is served on (keep-alive) by a thread of its own.
  std::thread replier([&] {
    absl::MutexLock lock(&mu);
    for (size_t i = 0; i < replies.size(); ++i) {
      HttpResponse res;
      res.status = 202;
      res.SetBody(absl::StrCat("later ", i), "text/plain");
      replies[i](res);
    }
  });
  replier.join();
  for (int i = 0; i < 3; ++i) {
    const std::string got = parked[i]->ReadAnswers(1);
    CHECK(absl::StrContains(got, "HTTP/1.1 202"));
    CHECK(absl::StrContains(got, "later"));
    parked[i]->Send(absl::StrCat("GET /echo?q=again", i, " HTTP/1.1\r\nHost: t\r\n\r\n"));
    CHECK(absl::StrContains(parked[i]->ReadAnswers(1), absl::StrCat("q=again", i)));
  }
}

TEST_CASE("http server: Stop() waits for a parked request's reply") {
  HttpServer server({.threads = 2});
  absl::Notification parked;
  HttpReply saved;
  server.PostAsync("/later", [&](const HttpRequest&, HttpReply reply) {
    saved = std::move(reply);
    parked.Notify();
  });
  const int port = server.Start("127.0.0.1", 0).value();
  Conn c(port);
  c.Send("POST /later HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  REQUIRE(parked.WaitForNotificationWithTimeout(absl::Seconds(5)));
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server.Stop();
    stopped = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK_FALSE(stopped.load());
  HttpResponse res;
  res.SetBody("late", "text/plain");
  saved(res);
  CHECK(absl::StrContains(c.ReadAnswers(1), "late"));
  stopper.join();
  CHECK(stopped.load());
}

}  // namespace
}  // namespace dtx::internal
