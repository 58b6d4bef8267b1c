// dtx against the real DTM ecosystem (../shared/peers): DTM's own Python client drives
// dtxd (saga, TCC, 2-phase messages with DTM's barrier on MariaDB); the real DTM server
// drives dtx branch services and takes dtx::Saga, dtx::Tcc and dtx::Msg from
// HttpSubmitter. The branches are dtx's, behind dtx::Barrier.
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <optional>
#include <thread>

#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include <grpcpp/grpcpp.h>

#include "busi.grpc.pb.h"
#include "dtx/gid.h"
#include "dtx/grpc/grpc_branch.h"
#include "dtx/grpc/grpc_submitter.h"
#include "dtx/grpc/grpc_transport.h"
#include "dtx/http/http_branch.h"
#include "dtx/http/http_submitter.h"
#include "dtx/http/http_transport.h"
#include "dtx/msg.h"
#include "dtx/result.h"
#include "dtx/saga.h"
#include "dtx/soci/barrier.h"
#include "dtx/soci/do_and_submit.h"
#include "dtx/soci/storage_url.h"
#include "dtx/tcc.h"
#include "dtm_process.h"
#include "dtxd_process.h"
#include "test_util.h"

namespace dtx {
namespace {

using testing::ChildProcess;
using testing::DtmProcess;
using testing::DtxdProcess;
using testing::Eventually;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The MariaDB of the test run, or "" (the tests that need it are skipped, or fail
// when every backend is required).
std::string MysqlUrl() {
  const char* url = std::getenv("DTX_TEST_MYSQL_URL");
  if (url == nullptr || *url == '\0') {
    const char* all = std::getenv("DTX_REQUIRE_ALL_BACKENDS");
    REQUIRE((all == nullptr || std::string(all) != "1"));
    return "";
  }
  return url;
}

// dtx branch services behind barriers: a bank on a SQLite file (saga and TCC
// transfers, loyalty points credited by messages) and the back-check of messages whose
// local transaction ran on MariaDB (`mysql_url`, may be empty).
class Services {
 public:
  Services(const std::string& dir, std::string mysql_url)
      : db_(dir + "/services.db"), mysql_url_(std::move(mysql_url)) {
    auto sql = Open();
    *sql << "CREATE TABLE account (id INT PRIMARY KEY, balance INT)";
    *sql << "INSERT INTO account VALUES (1, 1000)";
    *sql << "INSERT INTO account VALUES (2, 0)";
    *sql << "CREATE TABLE points (id INT PRIMARY KEY, points INT)";
    *sql << "INSERT INTO points VALUES (1, 0)";
    REQUIRE(Barrier::CreateTable(*sql).ok());
    auto add = [](int account, int sign) {
      return [account, sign](soci::session& tx, int amount) {
        const int delta = sign * amount;
        tx << "UPDATE account SET balance = balance + :d WHERE id = :id", soci::use(delta),
            soci::use(account);
        return absl::OkStatus();
      };
    };
    auto none = [](soci::session&, int) { return absl::OkStatus(); };
    Serve("/TransOut", add(1, -1));
    Serve("/TransOutCompensate", add(1, +1));
    Serve("/TransIn", add(2, +1));
    Serve("/TransInCompensate", add(2, -1));
    // TCC: the try takes the money out of account 1, cancel puts it back, confirm
    // credits account 2 on the other side.
    Serve("/TccOutTry", add(1, -1));
    Serve("/TccOutConfirm", none);
    Serve("/TccOutCancel", add(1, +1));
    Serve("/TccInTry", none);
    Serve("/TccInConfirm", add(2, +1));
    Serve("/TccInCancel", none);
    server_.Handle("/TccRefuseTry", [](const BranchInfo&, const dtx::HttpRequest&) {
      return FailureError("account 2 is frozen");
    });
    Serve("/Credit", [](soci::session& tx, int amount) {
      tx << "UPDATE points SET points = points + :a WHERE id = 1", soci::use(amount);
      return absl::OkStatus();
    });
    server_.Get("/QueryPrepared", [this](const dtx::HttpRequest& req, HttpResponse& res) {
      absl::StatusOr<BranchInfo> info = BranchInfoFromRequest(req);
      if (!info.ok()) return WriteResult(info.status(), res);
      soci::session mysql;
      if (absl::Status s = OpenSession(mysql, mysql_url_); !s.ok()) {
        return WriteResult(s, res);
      }
      WriteResult(Barrier(*info).QueryPrepared(mysql), res);
    });
    base_ = "http://127.0.0.1:" + std::to_string(server_.Start().value());
  }

  std::unique_ptr<soci::session> Open() {
    return std::make_unique<soci::session>(soci::sqlite3, "db=" + db_ + " timeout=10");
  }
  const std::string& base() const { return base_; }
  int Int(const std::string& query) {
    int v = -1;
    *Open() << query, soci::into(v);
    return v;
  }
  int Balance(int id) {
    return Int("SELECT balance FROM account WHERE id = " + std::to_string(id));
  }
  int Points() { return Int("SELECT points FROM points WHERE id = 1"); }

 private:
  void Serve(const std::string& path, std::function<absl::Status(soci::session&, int)> f) {
    server_.Handle(path, [this, f](const BranchInfo& info, const dtx::HttpRequest& req) {
      // DTM's Python client sends the body as JSON; dtx's payloads are JSON text too.
      const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
      const int amount = body.is_object() ? body.value("amount", 0) : 0;
      auto sql = Open();
      return Barrier(info).Call(*sql, [&](soci::session& tx) { return f(tx, amount); });
    });
  }

  std::string db_;
  std::string mysql_url_;
  HttpBranchServer server_;
  std::string base_;
};

TEST_CASE("DTM's Python client drives dtxd: saga, TCC and 2-phase messages") {
  const std::string mysql_url = MysqlUrl();
  if (mysql_url.empty()) return;
  absl::StatusOr<StorageTarget> target = ParseStorageUrl(mysql_url);
  REQUIRE(target.ok());
  const std::string dir = testing::NewTempDir("dtm-python");
  Services services(dir, mysql_url);
  {
    soci::session mysql;
    REQUIRE(OpenSession(mysql, mysql_url).ok());
    REQUIRE(Barrier::CreateTable(mysql).ok());  // dtm_barrier.barrier, DTM's table
    mysql << "DROP TABLE IF EXISTS peer_orders";
    mysql << "CREATE TABLE peer_orders (gid VARCHAR(128) PRIMARY KEY)";
  }
  DtxdProcess dtxd(dir + "/dtxd.db");

  // The script's connection parameters, from the URL mysql://user:password@host:port/db.
  const std::string rest = mysql_url.substr(std::string("mysql://").size());
  const std::string credentials = rest.substr(0, rest.find('@'));
  const std::string address = rest.substr(rest.find('@') + 1);
  const std::string host_port = address.substr(0, address.find('/'));
  const std::string log = dir + "/python.log";
  const std::string command = absl::StrCat(
      "echo started; PYTHONPATH=", DTX_PEERS_DIR, "/dtmcli-py exec /usr/bin/python3 ",
      DTX_SOURCE_DIR, "/tests/peers/dtm_python_client.py ", dtxd.http_base(),
      "/api/dtmsvr ", services.base(), " ", host_port.substr(0, host_port.find(':')), " ",
      host_port.substr(host_port.find(':') + 1), " ",
      credentials.substr(0, credentials.find(':')), " ",
      credentials.substr(credentials.find(':') + 1), " ",
      address.substr(address.find('/') + 1), " > ", log, " 2>&1");
  ChildProcess python({"/bin/sh", "-c", command});
  const int exit_code = python.Wait();
  const std::string output = ReadText(log);
  INFO(output);
  REQUIRE(exit_code == 0);
  CHECK(absl::StrContains(output, "all ok"));

  // What the branches did: the saga moved 30, the committed TCC 30, the rolled back
  // one nothing (its first try was cancelled); messages credited 5 and 7 points, the
  // refused one nothing; the refused order's local transaction rolled back.
  CHECK(services.Balance(1) == 1000 - 60);
  CHECK(services.Balance(2) == 60);
  CHECK(Eventually([&] { return services.Points() == 12; }));
  soci::session mysql;
  REQUIRE(OpenSession(mysql, mysql_url).ok());
  int orders = -1;
  mysql << "SELECT COUNT(*) FROM peer_orders", soci::into(orders);
  CHECK(orders == 1);
  CHECK(dtxd.Terminate() == 0);
}

TEST_CASE("the real DTM drives dtx branches and takes dtx's Saga, Tcc and Msg") {
  const std::string dir = testing::NewTempDir("dtm-server");
  Services services(dir, "");
  DtmProcess dtm(dir);
  HttpSubmitter submitter({.server = dtm.http_base()});
  HttpTransport transport;
  GidGenerator gids;
  const std::string base = services.base();
  auto status = [&](const std::string& gid) {
    absl::StatusOr<TransactionState> state = submitter.Query(gid);
    return state.ok() ? state->global.status : state.status().ToString();
  };

  // Saga: DTM calls the actions.
  Saga saga(&submitter, gids.Next());
  saga.Add(base + "/TransOut", base + "/TransOutCompensate", R"({"amount":30})")
      .Add(base + "/TransIn", base + "/TransInCompensate", R"({"amount":30})")
      .WaitResult(true);
  REQUIRE(saga.Submit().ok());
  CHECK(status(saga.gid()) == "succeed");
  CHECK(services.Balance(2) == 30);

  // TCC committed and rolled back; DTM runs the confirms and the cancels.
  auto transfer = [&](const std::string& gid, const std::string& in_try) {
    return Tcc(&submitter, &transport, gid).WaitResult(true).Run([&](Tcc& t) {
      absl::Status out = t.CallBranch(R"({"amount":10})", base + "/TccOutTry",
                                      base + "/TccOutConfirm", base + "/TccOutCancel");
      if (!out.ok()) return out;
      return t.CallBranch(R"({"amount":10})", base + in_try, base + "/TccInConfirm",
                          base + "/TccInCancel");
    });
  };
  const std::string tcc_ok = gids.Next(), tcc_no = gids.Next();
  REQUIRE(transfer(tcc_ok, "/TccInTry").ok());
  CHECK(Eventually([&] { return status(tcc_ok) == "succeed"; }));
  CHECK(Eventually([&] { return services.Balance(2) == 40; }));
  absl::Status refused = transfer(tcc_no, "/TccRefuseTry");
  CHECK(IsFailure(refused));
  CHECK(Eventually([&] { return status(tcc_no) == "failed"; }));
  CHECK(Eventually([&] { return services.Balance(1) == 1000 - 30 - 10; }));

  // msg: DoAndSubmit, the local transaction on the services' SQLite with its barrier;
  // DTM delivers the action.
  Msg msg(&submitter, gids.Next());
  msg.Add(base + "/Credit", R"({"amount":3})");
  auto sql = services.Open();
  REQUIRE(DoAndSubmit(msg, base + "/QueryPrepared", *sql, [](soci::session& tx) {
            tx << "UPDATE account SET balance = balance WHERE id = 1";
            return absl::OkStatus();
          }).ok());
  CHECK(Eventually([&] { return services.Points() == 3; }));
  CHECK(Eventually([&] { return status(msg.gid()) == "succeed"; }));
}

// dtx gRPC branches behind barriers, as DTM calls them: one method (dtxtest.Busi/Act)
// for every op of a bank account on SQLite; the op comes in DTM's metadata.
class GrpcBank final : public dtxtest::Busi::Service {
 public:
  explicit GrpcBank(const std::string& dir) : db_(dir + "/grpc_bank.db") {
    auto sql = Open();
    *sql << "CREATE TABLE account (id INT PRIMARY KEY, balance INT)";
    *sql << "INSERT INTO account VALUES (1, 100)";
    *sql << "INSERT INTO account VALUES (2, 0)";
    REQUIRE(Barrier::CreateTable(*sql).ok());
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
  }
  ~GrpcBank() override { server_->Shutdown(); }

  grpc::Status Act(grpc::ServerContext* context, const dtxtest::BusiRequest* request,
                   dtxtest::BusiReply*) override {
    absl::StatusOr<BranchInfo> info = BranchInfoFromContext(*context);
    if (!info.ok()) return ToGrpcStatus(info.status());
    if (info->op == "try" && request->want() == "failure") {
      return ToGrpcStatus(FailureError("account frozen"));
    }
    // try takes the amount out of account 1, cancel gives it back, confirm and a
    // message's action credit account 2.
    const int account = info->op == "try" || info->op == "cancel" ? 1 : 2;
    const int delta = info->op == "try" ? -request->amount() : request->amount();
    auto sql = Open();
    return ToGrpcStatus(Barrier(*info).Call(*sql, [&](soci::session& tx) {
      tx << "UPDATE account SET balance = balance + :d WHERE id = :id", soci::use(delta),
          soci::use(account);
      return absl::OkStatus();
    }));
  }

  std::string Url() const { return "127.0.0.1:" + std::to_string(port_) + "/dtxtest.Busi/Act"; }
  int Balance(int id) {
    int v = -1;
    *Open() << "SELECT balance FROM account WHERE id = " + std::to_string(id), soci::into(v);
    return v;
  }
  std::unique_ptr<soci::session> Open() {
    return std::make_unique<soci::session>(soci::sqlite3, "db=" + db_ + " timeout=10");
  }

 private:
  std::string db_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_CASE("the real DTM drives dtx gRPC branches: TCC and a message over gRPC") {
  const std::string dir = testing::NewTempDir("dtm-grpc");
  GrpcBank bank(dir);
  DtmProcess dtm(dir);
  GrpcSubmitterOptions options;
  options.target = dtm.grpc_target();
  GrpcSubmitter submitter(options);
  GrpcTransport transport;
  HttpSubmitter query({.server = dtm.http_base()});  // DTM's gRPC API has no query
  GidGenerator gids;
  auto payload = [](int amount, const std::string& want = "") {
    dtxtest::BusiRequest r;
    r.set_amount(amount);
    r.set_want(want);
    return r.SerializeAsString();
  };
  auto transfer = [&](const std::string& gid, const std::string& want) {
    return Tcc(&submitter, &transport, gid).Protocol("grpc").WaitResult(true).Run(
        [&](Tcc& t) {
          absl::Status out =
              t.CallBranch(payload(10), bank.Url(), bank.Url(), bank.Url());
          if (!out.ok()) return out;
          return t.CallBranch(payload(10, want), bank.Url(), bank.Url(), bank.Url());
        });
  };
  auto status = [&](const std::string& gid) {
    absl::StatusOr<TransactionState> state = query.Query(gid);
    return state.ok() ? state->global.status : state.status().ToString();
  };
  // Committed: both tries took 10 from account 1, both confirms credited account 2.
  const std::string ok = gids.Next();
  REQUIRE(transfer(ok, "").ok());
  CHECK(Eventually([&] { return status(ok) == "succeed"; }));
  CHECK(Eventually([&] { return bank.Balance(2) == 20; }));
  CHECK(bank.Balance(1) == 80);
  // Rolled back: the second try refused; the first try's money comes back.
  const std::string no = gids.Next();
  CHECK(IsFailure(transfer(no, "failure")));
  CHECK(Eventually([&] { return status(no) == "failed"; }));
  CHECK(Eventually([&] { return bank.Balance(1) == 80; }));
  CHECK(bank.Balance(2) == 20);
  // A message over gRPC: DTM delivers its action.
  Msg msg(&submitter, gids.Next());
  msg.Add(bank.Url(), payload(5)).Protocol("grpc");
  REQUIRE(msg.Prepare(bank.Url()).ok());
  REQUIRE(msg.Submit().ok());
  CHECK(Eventually([&] { return bank.Balance(2) == 25; }));
  CHECK(Eventually([&] { return status(msg.gid()) == "succeed"; }));
}

}  // namespace
}  // namespace dtx
