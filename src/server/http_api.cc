#include "server/http_api.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "dtx/gid.h"
#include "dtx/http/http_branch.h"
#include "dtx/result.h"
#include "internal/json_read.h"
#include "internal/remote_answer.h"

namespace dtx {
namespace {

using internal::AsDtmAnswer;
using nlohmann::json;

constexpr char kBase[] = "/api/dtmsvr";
constexpr int kMaxListLimit = 1000;

// The query parameter `name`, or "" when absent.
std::string ParamOf(const HttpRequest& req, std::string_view name) {
  return std::string(req.Param(name).value_or(""));
}

// The gid of a forceStop / resetNextCronTime request: JSON body {"gid":..}, or ?gid=.
absl::StatusOr<std::string> GidOf(const HttpRequest& req) {
  std::string gid;
  if (!req.body.empty()) {
    absl::StatusOr<json> doc = internal::ReadJson(req.body, "request body");
    if (!doc.ok()) return doc.status();
    if (!doc->is_object()) return absl::InvalidArgumentError("expected a JSON object");
    auto it = doc->find("gid");
    if (it != doc->end() && !it->is_string()) {
      return absl::InvalidArgumentError("'gid' must be a string");
    }
    if (it != doc->end()) gid = it->get<std::string>();
  }
  if (gid.empty()) gid = ParamOf(req, "gid");
  if (gid.empty()) return absl::InvalidArgumentError("missing gid");
  if (!IsValidGid(gid)) return absl::InvalidArgumentError("invalid gid");
  return gid;
}

void Json(HttpResponse& res, int status, const json& body) {
  res.status = status;
  res.SetBody(body.dump(-1, ' ', false, json::error_handler_t::replace),
                  "application/json");
}

using Handler = std::function<void(const HttpRequest&, HttpResponse&)>;

// The W3C trace context of a submit or prepare, from its headers (over any in the body).
void TakeTraceHeaders(const HttpRequest& req, TransGlobal& global) {
  if (std::optional<std::string_view> parent = req.Header("traceparent")) {
    global.options.traceparent = std::string(*parent);
    global.options.tracestate = std::string(req.Header("tracestate").value_or(""));
  }
}

}  // namespace

void ServeDtmHttpApi(internal::HttpServer& server, Coordinator& coordinator,
                     const HttpApiOptions& options) {
  const std::string base = kBase;
  const AuthTokens* tokens = options.tokens;
  const bool open_api = tokens == nullptr || !tokens->enabled();
  // Every route but /api/ping asks this first: false, with the 401 written, unless
  // the API is open or the request carries a token of the set.
  const auto admitted = [tokens, open_api](const HttpRequest& req, HttpResponse& res) {
    if (open_api || tokens->Admits(req.Header("Authorization").value_or(""))) {
      return true;
    }
    res.SetHeader("WWW-Authenticate", "Bearer");
    Json(res, 401, {{"message", "missing or unknown bearer token"}});
    return false;
  };
  const auto guarded = [admitted](Handler handler) -> Handler {
    return [admitted, handler = std::move(handler)](const HttpRequest& req,
                                                    HttpResponse& res) {
      if (admitted(req, res)) handler(req, res);
    };
  };

  server.Get(
      base + "/newGid", guarded([](const HttpRequest&, HttpResponse& res) {
        Json(res, 200, {{"gid", GidGenerator().Next()}, {"dtm_result", kResultSuccess}});
      }));

  // A wait_result submit is answered when its first pass ends. Up to
  // options.max_sync_waits of them run that pass on their connection's thread (the
  // thread makes the branch calls itself: the fastest way); past that, the request is
  // parked and answered from the pass's last thread, holding no connection thread
  // meanwhile, so that slow sagas cannot take every thread of the API.
  // The same for an abort with wait_result (the cancels of a TCC), sharing the slots.
  auto sync_waits = std::make_shared<std::atomic<int>>(0);
  using Waiting = absl::Status (Coordinator::*)(const TransGlobal&);
  using Parked = void (Coordinator::*)(const TransGlobal&, Coordinator::SubmitDone);
  auto waiting_route = [&](const std::string& path, Waiting waiting, Parked parked) {
    server.PostAsync(
        base + path, [&coordinator, admitted, sync_waits, waiting, parked,
                      max_sync_waits = options.max_sync_waits](
                         const HttpRequest& req, internal::HttpReply reply) {
          HttpResponse res;
          if (!admitted(req, res)) return reply(std::move(res));
          absl::StatusOr<TransGlobal> global = TransGlobalFromJson(req.body);
          if (!global.ok()) {
            WriteResult(global.status(), res);
            return reply(std::move(res));
          }
          TakeTraceHeaders(req, *global);
          const bool wait_here =
              !global->options.wait_result || sync_waits->fetch_add(1) < max_sync_waits;
          if (wait_here) {
            // The slot is given back however the call ends.
            struct Slot {
              std::atomic<int>* taken;
              ~Slot() {
                if (taken != nullptr) taken->fetch_sub(1);
              }
            } slot{global->options.wait_result ? sync_waits.get() : nullptr};
            WriteResult(AsDtmAnswer((coordinator.*waiting)(*global)), res);
            return reply(std::move(res));
          }
          sync_waits->fetch_sub(1);
          (coordinator.*parked)(*global, [reply](absl::Status outcome) {
            HttpResponse answer;
            WriteResult(AsDtmAnswer(outcome), answer);
            reply(std::move(answer));
          });
        });
  };
  waiting_route("/submit", &Coordinator::Submit, &Coordinator::Submit);
  waiting_route("/abort", &Coordinator::Abort, &Coordinator::Abort);

  // TCC and 2-phase messages (PROTOCOL.md, "TCC, 2-phase messages"); abort is above.
  server.Post(base + "/prepare", guarded([&coordinator](const HttpRequest& req,
                                                        HttpResponse& res) {
                absl::StatusOr<TransGlobal> global = TransGlobalFromJson(req.body);
                if (global.ok()) TakeTraceHeaders(req, *global);
                WriteResult(global.ok() ? AsDtmAnswer(coordinator.Prepare(*global))
                                        : global.status(),
                            res);
              }));
  server.Post(base + "/registerBranch",
              guarded([&coordinator](const HttpRequest& req, HttpResponse& res) {
                absl::StatusOr<TccBranch> branch = TccBranchFromJson(req.body);
                WriteResult(branch.ok() ? coordinator.RegisterBranch(*branch)
                                        : branch.status(),
                            res);
              }));

  server.Get(
      base + "/query", guarded([&coordinator, open_api](const HttpRequest& req,
                                                        HttpResponse& res) {
        const std::string gid = ParamOf(req, "gid");
        if (gid.empty())
          return WriteResult(absl::InvalidArgumentError("missing gid"), res);
        absl::StatusOr<TransactionState> state = coordinator.Query(gid);
        if (absl::IsNotFound(state.status())) {
          return Json(res, 200, {{"transaction", nullptr}, {"branches", json::array()}});
        }
        if (!state.ok()) return WriteResult(state.status(), res);
        if (open_api) WithholdHeaderValues(state->global);
        res.status = 200;
        res.SetBody(QueryResultToJson(state->global, state->branches),
                        "application/json");
      }));

  server.Get(
      base + "/all", guarded([&coordinator, open_api](const HttpRequest& req,
                                                      HttpResponse& res) {
        int64_t position = 0;
        int limit = 100;
        const std::string p = ParamOf(req, "position"),
                          l = ParamOf(req, "limit");
        if ((!p.empty() && (!absl::SimpleAtoi(p, &position) || position < 0)) ||
            (!l.empty() && (!absl::SimpleAtoi(l, &limit) || limit <= 0))) {
          return WriteResult(
              absl::InvalidArgumentError("position and limit must be positive integers"),
              res);
        }
        limit = std::min(limit, kMaxListLimit);
        const std::string status = ParamOf(req, "status"), gid = ParamOf(req, "gid"),
                          trans_type = ParamOf(req, "transType");
        absl::StatusOr<std::vector<TransGlobal>> list;
        if (!gid.empty()) {  // one transaction, if it matches the other filters
          absl::StatusOr<TransactionState> one =
              IsValidGid(gid) ? coordinator.Query(gid)
                              : absl::StatusOr<TransactionState>(
                                    absl::InvalidArgumentError("invalid gid"));
          list = std::vector<TransGlobal>();
          if (one.ok() && position == 0 &&
              (status.empty() || one->global.status == status) &&
              (trans_type.empty() || one->global.trans_type == trans_type)) {
            list->push_back(std::move(one->global));
          } else if (!one.ok() && !absl::IsNotFound(one.status())) {
            list = one.status();
          }
        } else {
          list = coordinator.List(position, status, trans_type, limit);
        }
        if (!list.ok()) return WriteResult(list.status(), res);
        if (open_api) std::for_each(list->begin(), list->end(), WithholdHeaderValues);
        const std::string next = static_cast<int>(list->size()) == limit && !list->empty()
                                     ? std::to_string(list->back().id)
                                     : std::string();
        res.status = 200;
        res.SetBody(ListResultToJson(*list, next), "application/json");
      }));

  // dtx: unfinished transactions older than `older_than` seconds (default 60), oldest
  // first, each with its last error (`result`) and next attempt (`next_cron_time`).
  server.Get(
      base + "/stuck", guarded([&coordinator, open_api](const HttpRequest& req,
                                                        HttpResponse& res) {
        int64_t older_than = 60;
        int limit = 100;
        const std::string o = ParamOf(req, "older_than"),
                          l = ParamOf(req, "limit");
        if ((!o.empty() && (!absl::SimpleAtoi(o, &older_than) || older_than < 0)) ||
            (!l.empty() && (!absl::SimpleAtoi(l, &limit) || limit <= 0))) {
          return WriteResult(absl::InvalidArgumentError(
                                 "older_than and limit must be non-negative integers"),
                             res);
        }
        absl::StatusOr<std::vector<TransGlobal>> stuck = coordinator.ListStuck(
            absl::Seconds(older_than), std::min(limit, kMaxListLimit));
        if (!stuck.ok()) return WriteResult(stuck.status(), res);
        if (open_api) std::for_each(stuck->begin(), stuck->end(), WithholdHeaderValues);
        res.status = 200;
        res.SetBody(ListResultToJson(*stuck, ""), "application/json");
      }));

  server.Post(base + "/forceStop", guarded([&coordinator](const HttpRequest& req,
                                                          HttpResponse& res) {
                absl::StatusOr<std::string> gid = GidOf(req);
                WriteResult(gid.ok() ? coordinator.ForceStop(*gid) : gid.status(), res);
              }));

  server.Post(
      base + "/resetNextCronTime",
      guarded([&coordinator](const HttpRequest& req, HttpResponse& res) {
        absl::StatusOr<std::string> gid = GidOf(req);
        WriteResult(gid.ok() ? coordinator.RetryNow(*gid) : gid.status(), res);
      }));

  server.Get(base + "/version",
             guarded([version = options.version](const HttpRequest&,
                                                 HttpResponse& res) {
               Json(res, 200, {{"version", version}});
             }));

  server.Get("/api/ping", [](const HttpRequest&, HttpResponse& res) {
    Json(res, 200, {{"msg", "pong"}});
  });
  server.Get("/healthz", [](const HttpRequest&, HttpResponse& res) {
    Json(res, 200, {{"status", "up"}});
  });
  // Ready when the store answers a read: the lookup of a gid no one uses (NotFound).
  // Open to anyone who reaches the port, so it reads the store at most once a second,
  // one probe at a time (a caller meanwhile gets the last answer), and says nothing
  // of why (the log and /metrics do).
  struct Readiness {
    absl::Mutex probing;
    absl::Mutex mu;
    absl::Time checked ABSL_GUARDED_BY(mu) = absl::InfinitePast();
    bool ready ABSL_GUARDED_BY(mu) = false;
  };
  auto readiness = std::make_shared<Readiness>();
  server.Get("/readyz", [&coordinator, readiness](const HttpRequest&, HttpResponse& res) {
    bool ready;
    {
      absl::MutexLock lock(&readiness->mu);
      ready = readiness->ready;
      if (absl::Now() - readiness->checked < absl::Seconds(1)) {
        return Json(res, ready ? 200 : 503,
                    {{"status", ready ? "ready" : "unavailable"}});
      }
    }
    if (readiness->probing.TryLock()) {
      absl::StatusOr<TransactionState> probe = coordinator.Query("dtx-readyz-probe");
      ready = probe.ok() || absl::IsNotFound(probe.status());
      readiness->probing.Unlock();
      absl::MutexLock lock(&readiness->mu);
      readiness->ready = ready;
      readiness->checked = absl::Now();
    }
    Json(res, ready ? 200 : 503, {{"status", ready ? "ready" : "unavailable"}});
  });
  if (options.metrics != nullptr) {
    server.Get("/metrics", guarded([&coordinator, metrics = options.metrics](
                                       const HttpRequest&, HttpResponse& res) {
                 res.status = 200;
                 res.SetBody(metrics->Text(coordinator.Metrics()),
                             "text/plain; version=0.0.4; charset=utf-8");
               }));
  }
}

}  // namespace dtx
