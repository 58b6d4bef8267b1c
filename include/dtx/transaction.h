// The data of a global transaction and its branches, as DTM defines them
// (PROTOCOL.md), and their JSON forms.
#ifndef DTX_TRANSACTION_H_
#define DTX_TRANSACTION_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace dtx {

// Global statuses.
inline constexpr std::string_view kStatusPrepared = "prepared";
inline constexpr std::string_view kStatusSubmitted = "submitted";
inline constexpr std::string_view kStatusAborting = "aborting";
inline constexpr std::string_view kStatusSucceed = "succeed";
inline constexpr std::string_view kStatusFailed = "failed";
// Branch statuses are kStatusPrepared, kStatusSucceed and kStatusFailed.

// Ops: saga, TCC (try is called by the client, the others by the coordinator), and
// the back-check of a 2-phase message (its query_prepared call, branch "00").
inline constexpr std::string_view kOpAction = "action";
inline constexpr std::string_view kOpCompensate = "compensate";
inline constexpr std::string_view kOpTry = "try";
inline constexpr std::string_view kOpConfirm = "confirm";
inline constexpr std::string_view kOpCancel = "cancel";
inline constexpr std::string_view kOpMsg = "msg";
// The branch id of a 2-phase message's back-check and of its local transaction's
// barrier row.
inline constexpr std::string_view kBranchIdMsg = "00";

inline constexpr std::string_view kTransTypeSaga = "saga";
inline constexpr std::string_view kTransTypeTcc = "tcc";
inline constexpr std::string_view kTransTypeMsg = "msg";
inline constexpr std::string_view kProtocolHttp = "http";

// Per-transaction options, DTM's TransOptions. On the wire durations are seconds.
struct TransOptions {
  // Submit answers only after the coordinator's first pass, with its outcome.
  bool wait_result = false;
  // A saga still running its actions this long after creation rolls back; a TCC or
  // 2-phase message still `prepared` this long after its prepare is settled by the
  // coordinator (a TCC rolls back, a message's query_prepared is asked).
  // Default: zero: never for a saga, the coordinator's default (35 s) for the others.
  absl::Duration timeout_to_fail = absl::ZeroDuration();
  // Timeout of each branch call. Default: zero, the coordinator's default (3 s).
  absl::Duration request_timeout = absl::ZeroDuration();
  // Delay before asking an ONGOING branch again, and the first backoff after an
  // error. Default: zero, the coordinator's default (10 s).
  absl::Duration retry_interval = absl::ZeroDuration();
  // A saga action answering ONGOING or an error is called again at once, in the same
  // pass, at most this many times (counted in retry_count), then the saga rolls back
  // (DTM's rule: a wait_result submit so answers the outcome). Default: 0, no limit:
  // retried by later passes with the backoff.
  int64_t retry_limit = 0;
  // Sent as headers (HTTP) or metadata (gRPC) with every branch call.
  std::map<std::string, std::string> branch_headers;
  // The W3C trace context the transaction runs under (dtx/tracing.h), stored with it
  // and sent with every branch call as `traceparent` and `tracestate` headers (HTTP)
  // or metadata (gRPC). HttpSubmitter and GrpcSubmitter send them to dtxd the same
  // way; an invalid traceparent is dropped. Default: none.
  std::string traceparent;
  std::string tracestate;
};

// A step of a saga, or of a 2-phase message (which has actions only).
struct SagaStep {
  std::string action;      // URL; empty: a step that always succeeds
  std::string compensate;  // URL; empty: nothing to undo
};

// A TCC branch as its client registers it (DTM's registerBranch), after choosing its
// id and before calling its try.
struct TccBranch {
  std::string gid;
  std::string branch_id;  // "01", "02", ..; a nested TCC appends its own two digits
  std::string data;       // the body of its confirm and cancel calls
  std::string confirm;    // URL
  std::string cancel;     // URL
};

// A global transaction. The fields above the line are what a client submits; those
// below are the coordinator's state, filled by Store and Coordinator::Query.
struct TransGlobal {
  std::string gid;
  std::string trans_type = std::string(kTransTypeSaga);
  std::string protocol = std::string(kProtocolHttp);
  std::vector<SagaStep> steps;
  std::vector<std::string> payloads;  // one per step (or none): sent to both ops
  std::string custom_data;            // JSON text; a concurrent saga's orders live here
  std::string query_prepared;  // msg: the back-check URL
  TransOptions options;
  // Why it rolled back: given by a client's abort, or the coordinator's reason.
  std::string rollback_reason;

  // ---- coordinator state ----
  int64_t id = 0;
  std::string status;
  absl::Time create_time = absl::InfinitePast();
  absl::Time update_time = absl::InfinitePast();
  absl::Time finish_time = absl::InfinitePast();    // InfinitePast: not set
  absl::Time rollback_time = absl::InfinitePast();  // InfinitePast: not set
  absl::Time next_cron_time = absl::InfinitePast();
  absl::Duration next_cron_interval = absl::ZeroDuration();
  std::string owner;
  std::string result;  // dtx: the last error a pass met, for operators
  int64_t retry_count = 0;
  // Set by Store::ClaimDue only, not stored: the owner whose lease ran out when the
  // transaction was claimed (its pass crashed or stalled: a take-over); empty when
  // nobody held it (a retry, a timeout, a row stored with the atomic start).
  std::string taken_from;
};

struct TransBranch {
  int64_t id = 0;
  std::string gid;
  std::string url;
  std::string bin_data;  // payload bytes
  std::string branch_id;
  std::string op;
  std::string status;
  absl::Time create_time = absl::InfinitePast();
  absl::Time update_time = absl::InfinitePast();
  absl::Time finish_time = absl::InfinitePast();
  absl::Time rollback_time = absl::InfinitePast();
};

// A transaction and its branches as stored.
struct TransactionState {
  TransGlobal global;
  std::vector<TransBranch> branches;
};

// A concurrent saga's ordering, parsed from custom_data
// {"concurrent":true,"orders":{"1":[0]}} ("step 1 runs after step 0").
struct SagaOrders {
  bool concurrent = false;
  std::map<int, std::vector<int>> orders;
};

// Parses custom_data. Empty text is a sequential saga. Rejects (kInvalidArgument)
// malformed JSON, step numbers outside [0, step_count) and cycles.
absl::StatusOr<SagaOrders> ParseSagaOrders(std::string_view custom_data, int step_count);

// For each step, the steps that must succeed before its action runs: the previous
// step for a sequential saga, the `orders` entry for a concurrent one.
std::vector<std::vector<int>> Predecessors(const SagaOrders& orders, int step_count);

// A 2-phase message's custom_data {"concurrent":true,"delay":N}: its actions run
// together instead of in order, and not before N seconds after its creation.
struct MsgOptions {
  bool concurrent = false;
  absl::Duration delay = absl::ZeroDuration();
};

// Parses a msg's custom_data; empty text is the defaults. kInvalidArgument for
// malformed JSON, a non-boolean `concurrent` or a `delay` that is not a whole number of
// seconds in [0, 2^31).
absl::StatusOr<MsgOptions> ParseMsgOptions(std::string_view custom_data);

// The submit body of DTM's HTTP API. Payloads must be UTF-8 text (DTM sends them as
// JSON strings); binary payloads travel only over gRPC or to the embedded coordinator.
absl::StatusOr<std::string> TransGlobalToJson(const TransGlobal& global);

// Parses and validates a submit body: kInvalidArgument for malformed JSON, a missing or
// invalid gid, an unknown trans_type, a payload count that matches no step count, bad
// option types or a bad custom_data. Unknown fields are ignored.
absl::StatusOr<TransGlobal> TransGlobalFromJson(std::string_view json);

// DTM's registerBranch body for TCC: a flat JSON object of strings {gid, trans_type
// ("tcc"), branch_id, data, confirm, cancel}. The parse refuses (kInvalidArgument)
// malformed JSON, a non-string field, an invalid gid or branch id; another
// trans_type (xa, workflow) is kUnimplemented.
std::string TccBranchToJson(const TccBranch& branch);
absl::StatusOr<TccBranch> TccBranchFromJson(std::string_view json);

// Whether `id` can be a branch id: 1-128 characters of [A-Za-z0-9-_.].
bool IsValidBranchId(std::string_view id);

// DTM's query answer: {"transaction":{..},"branches":[..]} with times in RFC 3339 and
// each branch's payload as base64 `bin_data`.
std::string QueryResultToJson(const TransGlobal& global,
                              const std::vector<TransBranch>& branches);

// Reads a query answer back (HttpSubmitter::Query): kNotFound for DTM's
// {"transaction":null}, kInvalidArgument for malformed JSON. Lenient about the rest:
// a field missing or of another type reads as unset.
absl::StatusOr<TransactionState> QueryResultFromJson(std::string_view json);

// DTM's `all` answer: {"transactions":[..],"next_position":".."}, each transaction as in
// the query answer; next_position is empty on the last page.
std::string ListResultToJson(const std::vector<TransGlobal>& globals,
                             const std::string& next_position);

}  // namespace dtx

#endif  // DTX_TRANSACTION_H_
