// dtxd over TLS (issue 12, finding 13): both APIs with a certificate of a test CA,
// mutual TLS, and https branches verified against --branch-ca. Certificates are made
// by the openssl command for each run.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "dtmgimp.grpc.pb.h"
#include "dtx/gid.h"
#include "dtx/http/http_branch.h"
#include "dtx/http/http_submitter.h"
#include "dtx/http/http_transport.h"
#include "dtx/result.h"
#include "dtxd_process.h"
#include "http/http_server.h"
#include "test_util.h"

namespace dtx {
namespace {

using nlohmann::json;
using testing::DtxdProcess;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A CA, and a server and a client certificate it signed (the server's for 127.0.0.1
// and localhost), as PEM files in `dir`.
struct Certificates {
  explicit Certificates(const std::string& d) : dir(d) {
    const std::string script = absl::StrCat(
        "set -e; cd ", dir, "\n",
        "key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $1; "
        "}\n",
        "key ca.key; key server.key; key client.key\n",
        "openssl req -x509 -new -key ca.key -out ca.pem -days 2 -subj '/CN=dtx test "
        "CA'\n",
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext\n",
        "openssl req -new -key server.key -out server.csr -subj '/CN=127.0.0.1'\n",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out server.pem -days 2 -extfile server.ext\n",
        "openssl req -new -key client.key -out client.csr -subj '/CN=dtx test client'\n",
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out client.pem -days 2\n");
    std::ofstream(dir + "/make.sh") << script;
    REQUIRE(std::system(("sh " + dir + "/make.sh > " + dir + "/make.log 2>&1").c_str()) ==
            0);
  }
  std::string Path(const std::string& name) const { return dir + "/" + name; }
  std::string dir;
};

std::string SagaJson(const std::string& gid, const std::string& url) {
  return json{{"gid", gid},
              {"trans_type", "saga"},
              {"steps", {{{"action", url}, {"compensate", url}}}},
              {"payloads", {"{}"}},
              {"wait_result", true}}
      .dump();
}

TEST_CASE("dtxd speaks TLS on both APIs and verifies https branches") {
  const std::string dir = testing::NewTempDir("dtxd-tls");
  Certificates certs(dir);
  // An https branch, on dtx's branch server with the test CA's certificate.
  HttpBranchServer branch(HttpBranchServerOptions{
      .tls_cert_file = certs.Path("server.pem"), .tls_key_file = certs.Path("server.key")});
  branch.Handle("/ok", [](const BranchInfo&, const HttpRequest&) { return absl::OkStatus(); });
  const std::string branch_url =
      "https://127.0.0.1:" + std::to_string(branch.Start("127.0.0.1", 0).value()) + "/ok";

  DtxdProcess dtxd(dir + "/dtx.db",
                   {"--tls-cert", certs.Path("server.pem"), "--tls-key",
                    certs.Path("server.key"), "--branch-ca", certs.Path("ca.pem")});
  httplib::SSLClient c("127.0.0.1", dtxd.http_port());
  c.set_ca_cert_path(certs.Path("ca.pem"));
  c.enable_server_certificate_verification(true);
  httplib::Result r =
      c.Post("/api/dtmsvr/submit", SagaJson("tls-1", branch_url), "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  r = c.Get("/api/dtmsvr/query?gid=tls-1");
  REQUIRE(r);
  CHECK(json::parse(r->body)["transaction"]["status"] == "succeed");

  // Plain HTTP to the TLS port gets no answer.
  httplib::Client plain("127.0.0.1", dtxd.http_port());
  plain.set_read_timeout(2, 0);
  CHECK_FALSE(plain.Get("/api/ping"));
  // A client that trusts another CA refuses the server.
  httplib::SSLClient stranger("127.0.0.1", dtxd.http_port());
  stranger.enable_server_certificate_verification(true);
  CHECK_FALSE(stranger.Get("/api/ping"));

  // HttpSubmitter over https, trusting the test CA.
  HttpSubmitterOptions options;
  options.server = "https://127.0.0.1:" + std::to_string(dtxd.http_port());
  options.ca_file = certs.Path("ca.pem");
  HttpSubmitter submitter(options);
  TransGlobal g;
  g.gid = "tls-2";
  g.steps = {{branch_url, branch_url}};
  g.payloads = {"{}"};
  g.options.wait_result = true;
  CHECK(submitter.Submit(g).ok());

  // gRPC with the test CA as its root; plaintext is refused.
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = Read(certs.Path("ca.pem"));
  auto stub = dtmgimp::Dtm::NewStub(
      grpc::CreateChannel(dtxd.grpc_target(), grpc::SslCredentials(tls)));
  {
    grpc::ClientContext ctx;
    google::protobuf::Empty empty;
    dtmgimp::DtmGidReply reply;
    CHECK(stub->NewGid(&ctx, empty, &reply).ok());
  }
  auto insecure = dtmgimp::Dtm::NewStub(
      grpc::CreateChannel(dtxd.grpc_target(), grpc::InsecureChannelCredentials()));
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    google::protobuf::Empty empty;
    dtmgimp::DtmGidReply reply;
    CHECK_FALSE(insecure->NewGid(&ctx, empty, &reply).ok());
  }
  CHECK(dtxd.Terminate() == 0);

  // Without --branch-ca the branch's certificate is not trusted: the call fails, and
  // says why.
  DtxdProcess untrusting(dir + "/dtx2.db");
  httplib::Client c2("127.0.0.1", untrusting.http_port());
  r = c2.Post("/api/dtmsvr/submit", SagaJson("tls-3", branch_url), "application/json");
  REQUIRE(r);
  CHECK(r->status == 409);  // wait_result: not finished
  r = c2.Get("/api/dtmsvr/query?gid=tls-3");
  REQUIRE(r);
  const json q = json::parse(r->body);
  CHECK(q["transaction"]["status"] == "submitted");
  CHECK(absl::StrContains(q["transaction"].value("result", ""), "SSL"));
  CHECK(untrusting.Terminate() == 0);
}

// One https call through HttpTransport, waited for.
absl::Status CallHttps(HttpTransport& transport, const std::string& url,
                       absl::Duration timeout) {
  BranchRequest r;
  r.url = url;
  r.gid = "g-1";
  r.trans_type = "saga";
  r.branch_id = "01";
  r.op = "action";
  r.payload = "{}";
  r.timeout = timeout;
  return testing::CallAndWait(transport, r);
}

TEST_CASE("https branch calls: certificates and names verified, one deadline per call") {
  const std::string dir = testing::NewTempDir("https-calls");
  Certificates certs(dir);
  const HttpBranchServerOptions tls{.tls_cert_file = certs.Path("server.pem"),
                                    .tls_key_file = certs.Path("server.key")};
  HttpBranchServer server(tls);
  std::atomic<int> calls{0};
  server.Handle("/ok", [&](const BranchInfo&, const HttpRequest&) {
    ++calls;
    return absl::OkStatus();
  });
  server.Handle("/slow", [](const BranchInfo&, const HttpRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return absl::OkStatus();
  });
  const std::string port = std::to_string(server.Start().value());
  // The same certificate served at an address it does not name.
  HttpBranchServer elsewhere(tls);
  elsewhere.Handle("/ok", [](const BranchInfo&, const HttpRequest&) {
    return absl::OkStatus();
  });
  const std::string other_port = std::to_string(elsewhere.Start("127.0.0.2", 0).value());

  HttpTransport trusting({.ca_file = certs.Path("ca.pem")});
  // By address and by name (both in the certificate), on kept-alive connections.
  for (int i = 0; i < 3; ++i) {
    CHECK(CallHttps(trusting, "https://127.0.0.1:" + port + "/ok", absl::Seconds(5)).ok());
  }
  CHECK(CallHttps(trusting, "https://localhost:" + port + "/ok", absl::Seconds(5)).ok());
  CHECK(calls.load() == 4);
  // 127.0.0.2 is not in the certificate: refused, the branch never reached.
  absl::Status wrong_name =
      CallHttps(trusting, "https://127.0.0.2:" + other_port + "/ok", absl::Seconds(5));
  CHECK(absl::IsUnavailable(wrong_name));
  CHECK(absl::StrContains(wrong_name.message(), "certificate verify failed"));
  // The system's store does not know the test CA.
  HttpTransport system_store;
  absl::Status untrusted =
      CallHttps(system_store, "https://127.0.0.1:" + port + "/ok", absl::Seconds(5));
  CHECK(absl::IsUnavailable(untrusted));
  CHECK(absl::StrContains(untrusted.message(), "SSL"));
  CHECK(calls.load() == 4);
  // The call's timeout bounds it whole: a branch slower than it is given up on.
  const auto t0 = std::chrono::steady_clock::now();
  absl::Status slow =
      CallHttps(trusting, "https://127.0.0.1:" + port + "/slow", absl::Milliseconds(300));
  CHECK(absl::IsUnavailable(slow));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(1200));
  // And the transport calls on.
  CHECK(CallHttps(trusting, "https://127.0.0.1:" + port + "/ok", absl::Seconds(5)).ok());
  // A call that waits for a transport thread counts its wait: queued behind a slow one
  // on a transport of one thread, it is given up at its timeout, never sent.
  {
    HttpTransport one_thread({.threads = 1, .ca_file = certs.Path("ca.pem")});
    std::thread slow_call([&] {
      (void)CallHttps(one_thread, "https://127.0.0.1:" + port + "/slow", absl::Seconds(5));
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the slow one first
    const int before = calls.load();
    absl::Status queued =
        CallHttps(one_thread, "https://127.0.0.1:" + port + "/ok", absl::Milliseconds(500));
    slow_call.join();
    CHECK(absl::IsUnavailable(queued));
    CHECK(absl::StrContains(queued.message(), "waited for a thread"));
    CHECK(calls.load() == before);
  }
  // A CA file that cannot be read fails https calls, and says why.
  HttpTransport broken({.ca_file = dir + "/no-such-ca.pem"});
  absl::Status no_ca =
      CallHttps(broken, "https://127.0.0.1:" + port + "/ok", absl::Seconds(5));
  CHECK(absl::IsFailedPrecondition(no_ca));
  CHECK(absl::StrContains(no_ca.message(), "no-such-ca.pem"));
}

// A TLS server of the test's own: each connection gets `answer` after the request's
// head, then the connection ends with close_notify (`notify`) or without it (a bare
// TCP close, as an attacker cutting the connection would make it).
class RawTlsServer {
 public:
  RawTlsServer(const Certificates& certs, std::string answer, bool notify)
      : answer_(std::move(answer)), notify_(notify) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    REQUIRE(SSL_CTX_use_certificate_chain_file(ctx_, certs.Path("server.pem").c_str()) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey_file(ctx_, certs.Path("server.key").c_str(),
                                        SSL_FILETYPE_PEM) == 1);
    fd_ = testing::ListenOnLoopback(&port_);
    thread_ = std::thread([this] {
      while (true) {
        const int c = accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        SSL* ssl = SSL_new(ctx_);
        SSL_set_fd(ssl, c);
        if (SSL_accept(ssl) == 1) {
          std::string in;
          char buf[4096];
          while (in.find("\r\n\r\n") == std::string::npos) {
            const int n = SSL_read(ssl, buf, sizeof(buf));
            if (n <= 0) break;
            in.append(buf, static_cast<size_t>(n));
          }
          SSL_write(ssl, answer_.data(), static_cast<int>(answer_.size()));
          if (notify_) SSL_shutdown(ssl);
        }
        SSL_free(ssl);
        close(c);
      }
    });
  }
  ~RawTlsServer() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
    SSL_CTX_free(ctx_);
  }
  int port() const { return port_; }

 private:
  const std::string answer_;
  const bool notify_;
  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST_CASE("https: an answer delimited by its end and cut by a bare close is refused") {
  const std::string dir = testing::NewTempDir("https-cut");
  Certificates certs(dir);
  HttpTransport transport({.ca_file = certs.Path("ca.pem")});
  // The body runs to the end of the connection: only close_notify says it is whole.
  const std::string answer = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nFAILURE";
  RawTlsServer closed(certs, answer, /*notify=*/true);
  CHECK(IsFailure(CallHttps(transport,
                            "https://127.0.0.1:" + std::to_string(closed.port()) + "/x",
                            absl::Seconds(5))));
  RawTlsServer cut(certs, answer, /*notify=*/false);
  absl::Status refused = CallHttps(
      transport, "https://127.0.0.1:" + std::to_string(cut.port()) + "/x", absl::Seconds(5));
  CHECK(absl::IsUnavailable(refused));
  CHECK(absl::StrContains(refused.message(), "close_notify"));
  // With a Content-Length the framing tells: a bare close after it is fine.
  RawTlsServer framed(certs, "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nFAILURE",
                      /*notify=*/false);
  CHECK(IsFailure(CallHttps(transport,
                            "https://127.0.0.1:" + std::to_string(framed.port()) + "/x",
                            absl::Seconds(5))));
}

TEST_CASE("with --tls-client-ca, clients must show a certificate of that CA") {
  const std::string dir = testing::NewTempDir("dtxd-mtls");
  Certificates certs(dir);
  DtxdProcess dtxd(dir + "/dtx.db",
                   {"--tls-cert", certs.Path("server.pem"), "--tls-key",
                    certs.Path("server.key"), "--tls-client-ca", certs.Path("ca.pem")});
  httplib::SSLClient anonymous("127.0.0.1", dtxd.http_port());
  anonymous.set_ca_cert_path(certs.Path("ca.pem"));
  CHECK_FALSE(anonymous.Get("/api/ping"));
  httplib::SSLClient known("127.0.0.1", dtxd.http_port(), certs.Path("client.pem"),
                           certs.Path("client.key"));
  known.set_ca_cert_path(certs.Path("ca.pem"));
  httplib::Result r = known.Get("/api/ping");
  REQUIRE(r);
  CHECK(r->status == 200);

  grpc::SslCredentialsOptions with_cert;
  with_cert.pem_root_certs = Read(certs.Path("ca.pem"));
  with_cert.pem_private_key = Read(certs.Path("client.key"));
  with_cert.pem_cert_chain = Read(certs.Path("client.pem"));
  grpc::SslCredentialsOptions without_cert;
  without_cert.pem_root_certs = with_cert.pem_root_certs;
  for (const bool show : {true, false}) {
    INFO("client certificate: " << show);
    auto stub = dtmgimp::Dtm::NewStub(grpc::CreateChannel(
        dtxd.grpc_target(), grpc::SslCredentials(show ? with_cert : without_cert)));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    google::protobuf::Empty empty;
    dtmgimp::DtmGidReply reply;
    CHECK(stub->NewGid(&ctx, empty, &reply).ok() == show);
  }
  CHECK(dtxd.Terminate() == 0);
}

// Connects to 127.0.0.1:port; the descriptor, or -1.
int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Whether the server closes `fd` within `within`, while `tick` runs every 200 ms.
bool ClosedWithin(int fd, std::chrono::milliseconds within,
                  const std::function<void()>& tick) {
  const auto end = std::chrono::steady_clock::now() + within;
  timeval step{0, 200 * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &step, sizeof(step));
  while (std::chrono::steady_clock::now() < end) {
    char buf[256];
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
    tick();
  }
  return false;
}

TEST_CASE("dtx's TLS server bounds handshakes and survives peers that leave") {
  const std::string dir = testing::NewTempDir("http-tls");
  Certificates certs(dir);
  internal::HttpServer server({.threads = 4,
                               .idle_timeout = absl::Seconds(1),
                               .request_timeout = absl::Seconds(1),
                               .tls_cert_file = certs.Path("server.pem"),
                               .tls_key_file = certs.Path("server.key")});
  server.Get("/big", [](const HttpRequest&, HttpResponse& res) {
    res.SetBody(std::string(8 << 20, 'x'), "text/plain");
  });
  server.Get("/small", [](const HttpRequest&, HttpResponse& res) {
    res.SetBody("small", "text/plain");
  });
  const int port = server.Start("127.0.0.1", 0).value();

  // A peer that connects and says nothing, and one that trickles a ClientHello a byte
  // at a time: each loses its connection at request_timeout, not at its pleasure.
  const int silent = Connect(port);
  REQUIRE(silent >= 0);
  CHECK(ClosedWithin(silent, std::chrono::milliseconds(3000), [] {}));
  close(silent);
  const int trickler = Connect(port);
  REQUIRE(trickler >= 0);
  const std::string hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  size_t sent = 0;
  CHECK(ClosedWithin(trickler, std::chrono::milliseconds(3000), [&] {
    if (sent < hello.size()) (void)!send(trickler, &hello[sent++], 1, MSG_NOSIGNAL);
  }));
  close(trickler);

  // A client that leaves while an 8 MiB answer is written to it: the write fails
  // (EPIPE); the process, which does not ignore SIGPIPE, lives on.
  for (int i = 0; i < 3; ++i) {
    httplib::SSLClient quitter("127.0.0.1", port);
    quitter.set_ca_cert_path(certs.Path("ca.pem"));
    quitter.set_read_timeout(0, 1000);  // 1 ms: gives up while the answer flows
    (void)quitter.Get("/big");
  }
  httplib::SSLClient client("127.0.0.1", port);
  client.set_ca_cert_path(certs.Path("ca.pem"));
  httplib::Result r = client.Get("/small");
  REQUIRE(r);
  CHECK(r->body == "small");
}

}  // namespace
}  // namespace dtx
