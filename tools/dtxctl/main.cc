// dtxctl: a command line over dtxd's HTTP API, for operators.
//
//   dtxctl list [--status S] [--type T] [--older-than SECONDS] [--stuck] [--limit N]
//   dtxctl show GID          the transaction, its branches, last error, next attempt
//   dtxctl retry GID         make an unfinished transaction due now
//   dtxctl stop GID          end an unfinished transaction as failed, no compensation
//   dtxctl watch [--interval SECONDS] [--count N]   live counts from /metrics
//
// Tables for people, --json for scripts (the API's own JSON; watch: one JSON object a
// line). --server (or DTXCTL_SERVER) names dtxd, --token or --token-file (or
// DTXCTL_TOKEN) the bearer token it wants. Exit status: 0 done, 1 refused or failed
// (the server's message on stderr), 2 bad usage.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "http/blocking_http_client.h"
#include "http/http_wire.h"

namespace {

using nlohmann::json;

struct Options {
  std::string server = "http://127.0.0.1:36789";
  std::string token;
  std::string token_file;
  std::string ca_file;
  double timeout = 10;
  bool json = false;
};

// One request to dtxd's API: the answer's status and body, or a message.
class Api {
 public:
  explicit Api(const Options& o) : options_(o), client_(1, o.ca_file) {}

  absl::StatusOr<dtx::internal::ClientResponse> Call(const std::string& method,
                                                     const std::string& target,
                                                     const std::string& body = "") {
    dtx::internal::ClientRequest request;
    request.tls = options_.server.rfind("https://", 0) == 0;
    if ((!request.tls && options_.server.rfind("http://", 0) != 0) ||
        !dtx::internal::SplitOrigin(options_.server, &request.host, &request.port)) {
      return absl::InvalidArgumentError("bad --server '" + options_.server +
                                        "': want http://HOST:PORT or https://HOST:PORT");
    }
    request.method = method;
    request.target = target;
    if (!options_.token.empty()) {
      request.headers.emplace_back("Authorization", "Bearer " + options_.token);
    }
    if (!body.empty()) {
      request.content_type = "application/json";
      request.body = body;
    }
    request.timeout = absl::Milliseconds(static_cast<int64_t>(options_.timeout * 1000));
    return client_.Send(request);
  }

 private:
  const Options& options_;
  dtx::internal::BlockingHttpClient client_;
};

// Percent-encodes a query parameter's value.
std::string Escape(std::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += absl::StrFormat("%%%02X", c);
    }
  }
  return out;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "dtxctl: %s\n", message.c_str());
  return 1;
}

// The JSON body of a 200 answer, or nullopt with the failure reported.
std::optional<json> JsonAnswer(const absl::StatusOr<dtx::internal::ClientResponse>& r,
                               int* exit_code) {
  *exit_code = 1;
  if (!r.ok()) {
    Fail(std::string(r.status().message()));
    return std::nullopt;
  }
  json body = json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (r->status != 200) {
    const std::string message = body.is_object() && body.contains("message")
                                    ? body["message"].dump()
                                    : r->body.substr(0, 200);
    Fail(absl::StrCat("HTTP ", r->status, ": ", message));
    return std::nullopt;
  }
  if (!body.is_object()) {
    Fail("the server's answer is not a JSON object: is --server a dtxd?");
    return std::nullopt;
  }
  *exit_code = 0;
  return body;
}

std::string Text(const json& doc, const std::string& key) {
  if (!doc.is_object() || !doc.contains(key) || doc[key].is_null()) return "";
  if (doc[key].is_string()) return doc[key].get<std::string>();
  return doc[key].dump();
}

// "2026-11-30T16:34:09.639+00:00" -> "2026-11-30 16:34:09".
std::string ShortTime(const std::string& rfc3339) {
  if (rfc3339.size() < 19) return rfc3339;
  std::string t = rfc3339.substr(0, 19);
  t[10] = ' ';
  return t;
}

std::string Clip(std::string text, size_t width) {
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (text.size() <= width) return text;
  return text.substr(0, width - 3) + "...";
}

// Columns padded to their widest cell.
void PrintTable(const std::vector<std::string>& head,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(head.size());
  for (size_t i = 0; i < head.size(); ++i) width[i] = head[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  };
  print(head);
  for (const auto& row : rows) print(row);
}

struct ListFlags {
  std::string status, type;
  double older_than = -1;
  bool stuck = false;
  int limit = 100;
};

int List(Api& api, const Options& o, const ListFlags& f) {
  json transactions = json::array();
  const absl::Time cutoff =
      absl::Now() - absl::Milliseconds(static_cast<int64_t>(f.older_than * 1000));
  // /all pages newest first: with --older-than, pages are read on until `limit` old
  // enough ones are found or the list ends (at most 100 pages).
  std::string position;
  for (int page = 0; page < 100; ++page) {
    std::string target;
    if (f.stuck) {
      target = absl::StrCat("/api/dtmsvr/stuck?limit=", f.limit, "&older_than=",
                            static_cast<int64_t>(f.older_than >= 0 ? f.older_than : 60));
    } else {
      target = absl::StrCat("/api/dtmsvr/all?limit=", f.limit);
      if (!f.status.empty()) target += "&status=" + Escape(f.status);
      if (!f.type.empty()) target += "&transType=" + Escape(f.type);
      if (!position.empty()) target += "&position=" + Escape(position);
    }
    int code = 0;
    std::optional<json> answer = JsonAnswer(api.Call("GET", target), &code);
    if (!answer) return code;
    const json list = answer->value("transactions", json::array());
    if (!list.is_array()) return Fail("the server's list is not an array");
    for (const json& t : list) {
      if (static_cast<int>(transactions.size()) >= f.limit) break;
      if (!t.is_object()) continue;
      if (f.stuck) {  // the server filtered on age; these on status and type
        if (!f.status.empty() && Text(t, "status") != f.status) continue;
        if (!f.type.empty() && Text(t, "trans_type") != f.type) continue;
      } else if (f.older_than >= 0) {
        absl::Time created;
        std::string error;
        if (!absl::ParseTime(absl::RFC3339_full, Text(t, "create_time"), &created,
                             &error) ||
            created >= cutoff) {
          continue;
        }
      }
      transactions.push_back(t);
    }
    position = Text(*answer, "next_position");
    if (f.stuck || f.older_than < 0 || position.empty() ||
        static_cast<int>(transactions.size()) >= f.limit) {
      break;
    }
  }
  if (o.json) {
    std::printf("%s\n", json{{"transactions", transactions}}.dump().c_str());
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const json& t : transactions) {
    rows.push_back({Text(t, "gid"), Text(t, "trans_type"), Text(t, "status"),
                    ShortTime(Text(t, "create_time")), Text(t, "retry_count"),
                    ShortTime(Text(t, "next_cron_time")), Clip(Text(t, "result"), 60)});
  }
  PrintTable(
      {"GID", "TYPE", "STATUS", "CREATED", "RETRIES", "NEXT ATTEMPT", "LAST ERROR"},
      rows);
  return 0;
}

int Show(Api& api, const Options& o, const std::string& gid) {
  int code = 0;
  std::optional<json> answer =
      JsonAnswer(api.Call("GET", "/api/dtmsvr/query?gid=" + Escape(gid)), &code);
  if (!answer) return code;
  const json t = answer->value("transaction", json());
  if (!t.is_object()) return Fail("no transaction " + gid);
  if (o.json) {
    std::printf("%s\n", answer->dump().c_str());
    return 0;
  }
  const std::vector<std::pair<std::string, std::string>> fields = {
      {"gid", Text(t, "gid")},
      {"trans_type", Text(t, "trans_type")},
      {"status", Text(t, "status")},
      {"protocol", Text(t, "protocol")},
      {"created", Text(t, "create_time")},
      {"updated", Text(t, "update_time")},
      {"finished", Text(t, "finish_time")},
      {"rollback_reason", Text(t, "rollback_reason")},
      {"retries", Text(t, "retry_count")},
      {"next_attempt", Text(t, "next_cron_time")},
      {"owner", Text(t, "owner")},
      {"last_error", Text(t, "result")}};
  for (const auto& [key, value] : fields) {
    if (!value.empty()) std::printf("%-16s %s\n", (key + ":").c_str(), value.c_str());
  }
  std::vector<std::vector<std::string>> rows;
  const json branches = answer->value("branches", json::array());
  for (const json& b : branches.is_array() ? branches : json::array()) {
    if (!b.is_object()) continue;
    rows.push_back({Text(b, "branch_id"), Text(b, "op"), Text(b, "status"),
                    ShortTime(Text(b, "update_time")), Text(b, "url")});
  }
  std::printf("\n");
  PrintTable({"BRANCH", "OP", "STATUS", "UPDATED", "URL"}, rows);
  return 0;
}

// retry (resetNextCronTime) and stop (forceStop).
int Operate(Api& api, const Options& o, const std::string& route, const std::string& gid,
            const std::string& done) {
  int code = 0;
  std::optional<json> answer = JsonAnswer(
      api.Call("POST", "/api/dtmsvr/" + route, json{{"gid", gid}}.dump()), &code);
  if (!answer) return code;
  if (o.json) {
    std::printf("%s\n", answer->dump().c_str());
  } else {
    std::printf("%s: %s\n", gid.c_str(), done.c_str());
  }
  return 0;
}

// The sum of every sample of `name` in a Prometheus text exposition whose labels
// contain `match` (e.g. result="error"; empty: all).
double Sum(const std::string& text, const std::string& name,
           const std::string& match = "") {
  double total = 0;
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(text, '\n'))) {
    if (line.rfind(name, 0) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != '{' && next != ' ') continue;
    if (!match.empty() && line.find(match) == std::string::npos) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) total += value;
  }
  return total;
}

int Watch(Api& api, const Options& o, double interval, int count) {
  std::map<std::string, double> last;
  absl::Time last_time;
  for (int i = 0; count <= 0 || i < count; ++i) {
    if (i > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(interval));
    }
    absl::StatusOr<dtx::internal::ClientResponse> r = api.Call("GET", "/metrics");
    if (!r.ok()) return Fail(std::string(r.status().message()));
    if (r->status != 200) return Fail(absl::StrCat("HTTP ", r->status, ": ", r->body));
    const absl::Time now = absl::Now();
    const std::map<std::string, double> totals = {
        {"started", Sum(r->body, "dtx_transactions_started_total")},
        {"succeeded", Sum(r->body, "dtx_transactions_finished_total", "\"succeed\"")},
        {"failed", Sum(r->body, "dtx_transactions_finished_total", "\"failed\"")},
        {"calls", Sum(r->body, "dtx_branch_calls_total")},
        {"call_errors", Sum(r->body, "dtx_branch_calls_total", "result=\"error\"")}};
    const double unfinished = Sum(r->body, "dtx_transactions_unfinished");
    const double stuck = Sum(r->body, "dtx_transactions_stuck");
    // Rates since the line before (none on the first).
    std::map<std::string, double> rate;
    const double seconds = i == 0 ? 0 : absl::ToDoubleSeconds(now - last_time);
    for (const auto& [key, total] : totals) {
      rate[key] = seconds > 0 ? (total - last[key]) / seconds : 0;
    }
    last = totals;
    last_time = now;
    const std::string time = absl::FormatTime("%H:%M:%S", now, absl::LocalTimeZone());
    if (o.json) {
      json line = {
          {"time", absl::FormatTime(absl::RFC3339_full, now, absl::UTCTimeZone())},
          {"unfinished", unfinished},
          {"stuck", stuck}};
      for (const auto& [key, total] : totals) {
        line[key + "_total"] = total;
        line[key + "_per_second"] = rate[key];
      }
      std::printf("%s\n", line.dump().c_str());
    } else {
      if (i % 20 == 0) {
        std::printf("%-8s  %10s  %6s  %9s  %11s  %8s  %8s  %11s\n", "TIME", "UNFINISHED",
                    "STUCK", "STARTED/S", "SUCCEEDED/S", "FAILED/S", "CALLS/S",
                    "CALL ERR/S");
      }
      std::printf("%-8s  %10.0f  %6.0f  %9.1f  %11.1f  %8.1f  %8.1f  %11.1f\n",
                  time.c_str(), unfinished, stuck, rate["started"], rate["succeeded"],
                  rate["failed"], rate["calls"], rate["call_errors"]);
    }
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const char* server = std::getenv("DTXCTL_SERVER")) o.server = server;
  if (const char* token = std::getenv("DTXCTL_TOKEN")) o.token = token;
  CLI::App app{"dtxctl: look at and steer the transactions of a dtxd"};
  app.require_subcommand(1);
  app.add_option("--server", o.server, "dtxd's HTTP API (env DTXCTL_SERVER)")
      ->capture_default_str();
  app.add_option("--token", o.token, "Bearer token (env DTXCTL_TOKEN)");
  app.add_option("--token-file", o.token_file, "Read the bearer token from this file");
  app.add_option("--ca-file", o.ca_file, "PEM CAs to verify an https server against");
  app.add_option("--timeout", o.timeout, "Seconds to wait for an answer")
      ->capture_default_str();
  app.add_flag("--json", o.json, "Print JSON for scripts");

  ListFlags list_flags;
  CLI::App* list = app.add_subcommand("list", "Transactions, newest first");
  list->add_option("--status", list_flags.status,
                   "prepared, submitted, aborting, succeed or failed");
  list->add_option("--type", list_flags.type, "saga, tcc or msg");
  list->add_option("--older-than", list_flags.older_than,
                   "Only those created more than this many seconds ago");
  list->add_flag("--stuck", list_flags.stuck,
                 "Only unfinished ones older than --older-than (default 60 s), oldest "
                 "first");
  list->add_option("--limit", list_flags.limit, "At most this many")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();

  std::string gid;
  CLI::App* show = app.add_subcommand("show", "A transaction and its branches");
  show->add_option("gid", gid, "The transaction's gid")->required();
  CLI::App* retry =
      app.add_subcommand("retry", "Make an unfinished transaction due now (retry it)");
  retry->add_option("gid", gid, "The transaction's gid")->required();
  CLI::App* stop = app.add_subcommand(
      "stop", "End an unfinished transaction as failed at once, without compensation");
  stop->add_option("gid", gid, "The transaction's gid")->required();

  double interval = 2;
  int count = 0;
  CLI::App* watch = app.add_subcommand("watch", "Live counts, a line every --interval");
  watch->add_option("--interval", interval, "Seconds between lines")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  watch->add_option("--count", count, "Stop after this many lines (0: never)")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  if (!o.token_file.empty()) {
    std::ifstream in(o.token_file);
    if (!in || !std::getline(in, o.token)) {
      std::fprintf(stderr, "dtxctl: cannot read --token-file %s\n", o.token_file.c_str());
      return 2;
    }
    o.token = std::string(absl::StripAsciiWhitespace(o.token));
  }
  while (!o.server.empty() && o.server.back() == '/') o.server.pop_back();

  Api api(o);
  if (*list) return List(api, o, list_flags);
  if (*show) return Show(api, o, gid);
  if (*retry) return Operate(api, o, "resetNextCronTime", gid, "due now");
  if (*stop) return Operate(api, o, "forceStop", gid, "stopped (failed)");
  if (*watch) return Watch(api, o, interval, count);
  return 2;
}
