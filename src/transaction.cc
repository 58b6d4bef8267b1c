#include "dtx/transaction.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "dtx/gid.h"
#include "internal/json_read.h"
#include "internal/options_json.h"
#include "internal/text_rules.h"

namespace dtx {
namespace {

using nlohmann::json;

bool IsKnownTransType(std::string_view t) {
  return t == "saga" || t == "tcc" || t == "msg" || t == "xa" || t == "workflow";
}

// Seconds on the wire: an integer when whole (what DTM sends and parses), else a
// fraction, which dtx reads back to the millisecond.
json DurationToJson(absl::Duration d) {
  if (d % absl::Seconds(1) == absl::ZeroDuration()) return absl::ToInt64Seconds(d);
  return absl::ToDoubleSeconds(d);
}

// Longer than anything a coordinator accepts (CoordinatorOptions' limits are checked
// at submit); it keeps the conversion below exact and away from overflow.
constexpr double kMaxDurationSeconds = 100.0 * 365 * 24 * 3600;

absl::StatusOr<absl::Duration> DurationFromJson(const json& value, const char* field) {
  if (!value.is_number() || value.get<double>() < 0 ||
      !std::isfinite(value.get<double>())) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", field, "' must be a non-negative number of seconds"));
  }
  if (value.get<double>() > kMaxDurationSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", field, "' is out of range (at most 100 years)"));
  }
  if (value.is_number_integer()) return absl::Seconds(value.get<int64_t>());
  return absl::Milliseconds(std::llround(value.get<double>() * 1000));
}

std::string TimeToJson(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3S%Ez", t, absl::UTCTimeZone());
}

void PutTime(json& out, const char* key, absl::Time t) {
  if (t != absl::InfinitePast()) out[key] = TimeToJson(t);
}

void WriteOptions(const TransOptions& o, json& out) {
  if (o.wait_result) out["wait_result"] = true;
  if (o.timeout_to_fail > absl::ZeroDuration()) {
    out["timeout_to_fail"] = DurationToJson(o.timeout_to_fail);
  }
  if (o.request_timeout > absl::ZeroDuration()) {
    out["request_timeout"] = DurationToJson(o.request_timeout);
  }
  if (o.retry_interval > absl::ZeroDuration()) {
    out["retry_interval"] = DurationToJson(o.retry_interval);
  }
  if (o.retry_limit > 0) out["retry_limit"] = o.retry_limit;
  if (!o.branch_headers.empty()) out["branch_headers"] = o.branch_headers;
  if (!o.traceparent.empty()) out["traceparent"] = o.traceparent;
  if (!o.tracestate.empty()) out["tracestate"] = o.tracestate;
}

absl::Status ReadOptions(const json& doc, TransOptions* o) {
  if (auto it = doc.find("wait_result"); it != doc.end() && !it->is_null()) {
    if (!it->is_boolean())
      return absl::InvalidArgumentError("'wait_result' must be a boolean");
    o->wait_result = it->get<bool>();
  }
  for (auto [key, field] : {std::pair{"timeout_to_fail", &o->timeout_to_fail},
                            {"request_timeout", &o->request_timeout},
                            {"retry_interval", &o->retry_interval}}) {
    auto it = doc.find(key);
    if (it == doc.end() || it->is_null()) continue;
    absl::StatusOr<absl::Duration> d = DurationFromJson(*it, key);
    if (!d.ok()) return d.status();
    *field = *d;
  }
  if (auto it = doc.find("retry_limit"); it != doc.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0) {
      return absl::InvalidArgumentError("'retry_limit' must be a non-negative integer");
    }
    o->retry_limit = it->get<int64_t>();
  }
  if (auto it = doc.find("branch_headers"); it != doc.end() && !it->is_null()) {
    if (!it->is_object()) {
      return absl::InvalidArgumentError("'branch_headers' must be an object of strings");
    }
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) {
        return absl::InvalidArgumentError("'branch_headers' values must be strings");
      }
      o->branch_headers[k] = v.get<std::string>();
    }
  }
  // Trace context: dropped, not refused, when it is not text (dtx/tracing.h).
  for (auto [key, field] :
       {std::pair{"traceparent", &o->traceparent}, {"tracestate", &o->tracestate}}) {
    auto it = doc.find(key);
    if (it != doc.end() && it->is_string()) *field = it->get<std::string>();
  }
  return absl::OkStatus();
}

}  // namespace

std::string internal::OptionsToJson(const TransOptions& options) {
  json out = json::object();
  WriteOptions(options, out);
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

absl::StatusOr<TransOptions> internal::OptionsFromJson(std::string_view text) {
  TransOptions options;
  if (text.empty()) return options;
  absl::StatusOr<json> doc = ReadJson(text, "stored options");
  if (!doc.ok()) return doc.status();
  if (!doc->is_object()) {
    return absl::InvalidArgumentError("stored options are not a JSON object");
  }
  if (absl::Status s = ReadOptions(*doc, &options); !s.ok()) return s;
  return options;
}

namespace {

// A custom_data object (an empty text reads as {}), and its `concurrent` flag, which
// sagas and messages share.
absl::StatusOr<json> ReadCustomData(std::string_view custom_data, bool* concurrent) {
  *concurrent = false;
  if (custom_data.empty()) return json::object();
  absl::StatusOr<json> doc = internal::ReadJson(custom_data, "custom_data");
  if (!doc.ok()) return doc.status();
  if (!doc->is_object()) {
    return absl::InvalidArgumentError("custom_data is not a JSON object");
  }
  if (auto it = doc->find("concurrent"); it != doc->end() && !it->is_null()) {
    if (!it->is_boolean()) {
      return absl::InvalidArgumentError("custom_data.concurrent must be a boolean");
    }
    *concurrent = it->get<bool>();
  }
  return doc;
}

}  // namespace

absl::StatusOr<SagaOrders> ParseSagaOrders(std::string_view custom_data, int step_count) {
  SagaOrders result;
  absl::StatusOr<json> parsed = ReadCustomData(custom_data, &result.concurrent);
  if (!parsed.ok()) return parsed.status();
  const json& doc = *parsed;
  auto orders = doc.find("orders");
  if (orders == doc.end() || orders->is_null()) return result;
  if (!orders->is_object()) {
    return absl::InvalidArgumentError("custom_data.orders must be an object");
  }
  for (const auto& [key, preds] : orders->items()) {
    int step = -1;
    try {
      size_t used = 0;
      step = std::stoi(key, &used);
      if (used != key.size()) step = -1;
    } catch (const std::exception&) {
    }
    if (step < 0 || step >= step_count) {
      return absl::InvalidArgumentError(absl::StrCat("custom_data.orders names step '",
                                                     internal::Excerpt(key, 32), "' of ",
                                                     step_count));
    }
    if (!preds.is_array()) {
      return absl::InvalidArgumentError("custom_data.orders values must be arrays");
    }
    for (const json& p : preds) {
      // The message names the step, never the value: dumping a value recurses once
      // per level of its nesting.
      if (!p.is_number_integer() || p.get<int64_t>() < 0 ||
          p.get<int64_t>() >= step_count || p.get<int64_t>() == step) {
        return absl::InvalidArgumentError(
            absl::StrCat("custom_data.orders[", internal::Excerpt(key, 32),
                         "] holds something other than another step's "
                         "number (0 to ",
                         step_count - 1, ")"));
      }
      result.orders[step].push_back(p.get<int>());
    }
  }
  // A cycle would leave its actions waiting for each other forever. Kahn's algorithm:
  // steps whose predecessors are all placed are placed; a cycle leaves some unplaced.
  // (Iterative: a chain of many steps must not run deep recursion.)
  std::vector<int> waiting_on(step_count, 0);
  std::vector<std::vector<int>> successors(step_count);
  for (const auto& [step, preds] : result.orders) {
    waiting_on[step] = static_cast<int>(preds.size());
    for (int p : preds) successors[p].push_back(step);
  }
  std::vector<int> ready;
  for (int s = 0; s < step_count; ++s) {
    if (waiting_on[s] == 0) ready.push_back(s);
  }
  int placed = 0;
  while (!ready.empty()) {
    const int s = ready.back();
    ready.pop_back();
    ++placed;
    for (int next : successors[s]) {
      if (--waiting_on[next] == 0) ready.push_back(next);
    }
  }
  if (placed != step_count) {
    return absl::InvalidArgumentError("custom_data.orders has a cycle");
  }
  return result;
}

absl::StatusOr<MsgOptions> ParseMsgOptions(std::string_view custom_data) {
  MsgOptions result;
  absl::StatusOr<json> parsed = ReadCustomData(custom_data, &result.concurrent);
  if (!parsed.ok()) return parsed.status();
  const json& doc = *parsed;
  if (auto it = doc.find("delay"); it != doc.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0 ||
        it->get<int64_t>() > std::numeric_limits<int32_t>::max()) {
      return absl::InvalidArgumentError(
          "custom_data.delay must be a whole number of seconds, 0 or more");
    }
    result.delay = absl::Seconds(it->get<int64_t>());
  }
  return result;
}

std::vector<std::vector<int>> Predecessors(const SagaOrders& orders, int step_count) {
  std::vector<std::vector<int>> preds(step_count);
  for (int s = 0; s < step_count; ++s) {
    if (!orders.concurrent) {
      if (s > 0) preds[s].push_back(s - 1);
    } else if (auto it = orders.orders.find(s); it != orders.orders.end()) {
      preds[s] = it->second;
    }
  }
  return preds;
}

absl::StatusOr<std::string> TransGlobalToJson(const TransGlobal& g) {
  json out = {{"gid", g.gid}, {"trans_type", g.trans_type}};
  if (!g.protocol.empty()) out["protocol"] = g.protocol;
  if (!g.steps.empty()) {
    json steps = json::array();
    for (const SagaStep& s : g.steps) {
      steps.push_back({{"action", s.action}, {"compensate", s.compensate}});
    }
    out["steps"] = std::move(steps);
  }
  if (!g.payloads.empty()) out["payloads"] = g.payloads;
  if (!g.custom_data.empty()) out["custom_data"] = g.custom_data;
  if (!g.query_prepared.empty()) out["query_prepared"] = g.query_prepared;
  if (!g.rollback_reason.empty()) out["rollback_reason"] = g.rollback_reason;
  WriteOptions(g.options, out);
  try {
    return out.dump();
  } catch (const json::exception&) {
    return absl::InvalidArgumentError(
        "a payload or field is not UTF-8 text; send binary payloads over gRPC");
  }
}

absl::StatusOr<TransGlobal> TransGlobalFromJson(std::string_view text) {
  absl::StatusOr<json> parsed = internal::ReadJson(text, "submit body");
  if (!parsed.ok()) return parsed.status();
  const json& doc = *parsed;
  if (!doc.is_object()) return absl::InvalidArgumentError("expected a JSON object");
  TransGlobal g;
  auto string_field = [&](const char* key, std::string* out) -> absl::Status {
    auto it = doc.find(key);
    if (it == doc.end() || it->is_null()) return absl::OkStatus();
    if (!it->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("'", key, "' must be a string"));
    }
    *out = it->get<std::string>();
    return absl::OkStatus();
  };
  for (auto [key, field] : {std::pair{"gid", &g.gid},
                            {"trans_type", &g.trans_type},
                            {"protocol", &g.protocol},
                            {"custom_data", &g.custom_data},
                            {"query_prepared", &g.query_prepared},
                            {"rollback_reason", &g.rollback_reason}}) {
    if (absl::Status s = string_field(key, field); !s.ok()) return s;
  }
  if (!IsValidGid(g.gid)) {
    return absl::InvalidArgumentError(
        g.gid.empty() ? std::string("missing gid")
                      : absl::StrCat("invalid gid '", internal::Excerpt(g.gid, 64),
                                     "': use 1-128 characters of [A-Za-z0-9-_.~:]"));
  }
  if (!IsKnownTransType(g.trans_type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown trans_type '", internal::Excerpt(g.trans_type, 32), "'"));
  }
  if (g.protocol.empty()) g.protocol = std::string(kProtocolHttp);

  if (auto it = doc.find("steps"); it != doc.end() && !it->is_null()) {
    if (!it->is_array()) return absl::InvalidArgumentError("'steps' must be an array");
    for (const json& step : *it) {
      if (!step.is_object()) {
        return absl::InvalidArgumentError("each step must be an object of URLs");
      }
      SagaStep s;
      for (auto [key, field] :
           {std::pair{"action", &s.action}, {"compensate", &s.compensate}}) {
        auto f = step.find(key);
        if (f == step.end() || f->is_null()) continue;
        if (!f->is_string()) {
          return absl::InvalidArgumentError(
              absl::StrCat("step '", key, "' must be a URL string"));
        }
        *field = f->get<std::string>();
      }
      g.steps.push_back(std::move(s));
    }
  }
  if (auto it = doc.find("payloads"); it != doc.end() && !it->is_null()) {
    if (!it->is_array()) return absl::InvalidArgumentError("'payloads' must be an array");
    for (const json& p : *it) {
      if (!p.is_string())
        return absl::InvalidArgumentError("each payload must be a string");
      g.payloads.push_back(p.get<std::string>());
    }
  }
  if (!g.payloads.empty() && g.payloads.size() != g.steps.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "got ", g.payloads.size(), " payloads for ", g.steps.size(), " steps"));
  }

  if (absl::Status s = ReadOptions(doc, &g.options); !s.ok()) return s;
  if (g.trans_type == kTransTypeSaga) {
    absl::StatusOr<SagaOrders> orders =
        ParseSagaOrders(g.custom_data, static_cast<int>(g.steps.size()));
    if (!orders.ok()) return orders.status();
  }
  return g;
}

bool IsValidBranchId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
           c == '.';
  });
}

std::string TccBranchToJson(const TccBranch& b) {
  return json({{"gid", b.gid},
               {"trans_type", kTransTypeTcc},
               {"branch_id", b.branch_id},
               {"data", b.data},
               {"confirm", b.confirm},
               {"cancel", b.cancel}})
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

absl::StatusOr<TccBranch> TccBranchFromJson(std::string_view text) {
  absl::StatusOr<json> parsed = internal::ReadJson(text, "registerBranch body");
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object()) return absl::InvalidArgumentError("expected a JSON object");
  TccBranch b;
  std::string trans_type(kTransTypeTcc);
  for (auto [key, field] : {std::pair{"gid", &b.gid},
                            {"trans_type", &trans_type},
                            {"branch_id", &b.branch_id},
                            {"data", &b.data},
                            {"confirm", &b.confirm},
                            {"cancel", &b.cancel}}) {
    auto it = parsed->find(key);
    if (it == parsed->end() || it->is_null()) continue;
    if (!it->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("'", key, "' must be a string"));
    }
    *field = it->get<std::string>();
  }
  if (!IsValidGid(b.gid)) {
    return absl::InvalidArgumentError(b.gid.empty() ? "missing gid" : "invalid gid");
  }
  if (trans_type != kTransTypeTcc) {
    return absl::UnimplementedError(absl::StrCat(
        "registerBranch of trans_type '", internal::Excerpt(trans_type, 32),
        "' is not supported yet: dtx registers tcc branches"));
  }
  if (!IsValidBranchId(b.branch_id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid branch_id '", internal::Excerpt(b.branch_id, 32),
        "': use 1-128 characters of [A-Za-z0-9-_.]"));
  }
  return b;
}

namespace {

json GlobalToJson(const TransGlobal& g) {
  json t = {{"id", g.id},
            {"gid", g.gid},
            {"trans_type", g.trans_type},
            {"status", g.status},
            {"protocol", g.protocol}};
  PutTime(t, "create_time", g.create_time);
  PutTime(t, "update_time", g.update_time);
  PutTime(t, "finish_time", g.finish_time);
  PutTime(t, "rollback_time", g.rollback_time);
  PutTime(t, "next_cron_time", g.next_cron_time);
  if (!g.query_prepared.empty()) t["query_prepared"] = g.query_prepared;
  if (!g.custom_data.empty()) t["custom_data"] = g.custom_data;
  t["next_cron_interval"] = absl::ToInt64Seconds(g.next_cron_interval);
  if (!g.owner.empty()) t["owner"] = g.owner;
  if (!g.rollback_reason.empty()) t["rollback_reason"] = g.rollback_reason;
  if (!g.result.empty()) t["result"] = g.result;
  WriteOptions(g.options, t);
  if (g.retry_count > 0) t["retry_count"] = g.retry_count;
  return t;
}

}  // namespace

std::string QueryResultToJson(const TransGlobal& g, const std::vector<TransBranch>& bs) {
  json t = GlobalToJson(g);
  json branches = json::array();
  for (const TransBranch& b : bs) {
    json j = {{"id", b.id},
              {"gid", b.gid},
              {"url", b.url},
              {"branch_id", b.branch_id},
              {"op", b.op},
              {"status", b.status},
              {"bin_data", absl::Base64Escape(b.bin_data)}};
    PutTime(j, "create_time", b.create_time);
    PutTime(j, "update_time", b.update_time);
    PutTime(j, "finish_time", b.finish_time);
    PutTime(j, "rollback_time", b.rollback_time);
    branches.push_back(std::move(j));
  }
  json out = {{"transaction", std::move(t)}, {"branches", std::move(branches)}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

// What a remote coordinator's answer holds, read leniently: a field missing or of
// another type reads as unset (DTM and dtxd write the same shape; a newer server may
// add fields).
std::string StringIn(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t IntIn(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

absl::Time TimeIn(const json& o, const char* key) {
  absl::Time t;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, StringIn(o, key), &t, &error)) return t;
  return absl::InfinitePast();
}

}  // namespace

absl::StatusOr<TransactionState> QueryResultFromJson(std::string_view text) {
  absl::StatusOr<json> parsed = internal::ReadJson(text, "query answer");
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object()) return absl::InvalidArgumentError("expected a JSON object");
  auto t = parsed->find("transaction");
  if (t == parsed->end() || t->is_null()) {
    return absl::NotFoundError("no such transaction");
  }
  if (!t->is_object()) return absl::InvalidArgumentError("'transaction' is not an object");
  TransactionState state;
  TransGlobal& g = state.global;
  g.id = IntIn(*t, "id");
  g.gid = StringIn(*t, "gid");
  g.trans_type = StringIn(*t, "trans_type");
  g.status = StringIn(*t, "status");
  g.protocol = StringIn(*t, "protocol");
  g.query_prepared = StringIn(*t, "query_prepared");
  g.custom_data = StringIn(*t, "custom_data");
  g.owner = StringIn(*t, "owner");
  g.rollback_reason = StringIn(*t, "rollback_reason");
  g.result = StringIn(*t, "result");
  g.retry_count = IntIn(*t, "retry_count");
  g.next_cron_interval = absl::Seconds(IntIn(*t, "next_cron_interval"));
  g.create_time = TimeIn(*t, "create_time");
  g.update_time = TimeIn(*t, "update_time");
  g.finish_time = TimeIn(*t, "finish_time");
  g.rollback_time = TimeIn(*t, "rollback_time");
  g.next_cron_time = TimeIn(*t, "next_cron_time");
  (void)ReadOptions(*t, &g.options).ok();  // lenient: a bad option reads as unset
  auto branches = parsed->find("branches");
  if (branches != parsed->end() && branches->is_array()) {
    for (const json& j : *branches) {
      if (!j.is_object()) continue;
      TransBranch b;
      b.id = IntIn(j, "id");
      b.gid = StringIn(j, "gid");
      b.url = StringIn(j, "url");
      b.branch_id = StringIn(j, "branch_id");
      b.op = StringIn(j, "op");
      b.status = StringIn(j, "status");
      if (!absl::Base64Unescape(StringIn(j, "bin_data"), &b.bin_data)) b.bin_data.clear();
      b.create_time = TimeIn(j, "create_time");
      b.update_time = TimeIn(j, "update_time");
      b.finish_time = TimeIn(j, "finish_time");
      b.rollback_time = TimeIn(j, "rollback_time");
      state.branches.push_back(std::move(b));
    }
  }
  return state;
}

std::string ListResultToJson(const std::vector<TransGlobal>& globals,
                             const std::string& next_position) {
  json list = json::array();
  for (const TransGlobal& g : globals) list.push_back(GlobalToJson(g));
  json out = {{"transactions", std::move(list)}, {"next_position", next_position}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace dtx
