#include "soci/pg_pipeline.h"

#include <libpq-events.h>
#include <libpq-fe.h>
#include <soci/postgresql/soci-postgresql.h>

#include <cctype>
#include <cstdint>
#include <cstdlib>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace dtx::internal {
namespace {

[[noreturn]] void Throw(PGconn* conn, const std::string& what) {
  throw soci::soci_error(absl::StrCat(what, ": ", PQerrorMessage(conn)));
}

}  // namespace

namespace {

// The session's connection; throws when it has none (a reconnect that failed leaves a
// session without a backend).
PGconn* ConnectionOf(soci::session& sql) {
  auto* backend = static_cast<soci::postgresql_session_backend*>(sql.get_backend());
  if (backend == nullptr || backend->conn_ == nullptr) {
    throw soci::soci_error("not connected to PostgreSQL");
  }
  return backend->conn_;
}

// What PreparedOnce prepared on one connection: query text -> statement name. Hung on
// the PGconn through libpq's event procedures, so that it lives and dies with the
// connection and is emptied when libpq resets it (the server forgets its prepared
// statements then).
struct OnceStatements {
  absl::flat_hash_map<std::string, std::string> names;
};

// A statement's name from its text (FNV-1a, the same in every process and build): a
// name always means the same SQL, also on a server connection that a pooler shares
// between clients, where a counted name could run another client's statement.
std::string NameOf(const std::string& query) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : query) h = (h ^ c) * 1099511628211ull;
  return absl::StrCat("dtx_once_", absl::Hex(h, absl::kZeroPad16));
}

int OnceStatementsEvent(PGEventId event, void* info, void* /*pass_through*/) {
  const PGconn* conn = nullptr;
  if (event == PGEVT_CONNRESET) conn = static_cast<PGEventConnReset*>(info)->conn;
  if (event == PGEVT_CONNDESTROY) conn = static_cast<PGEventConnDestroy*>(info)->conn;
  if (conn == nullptr) return 1;
  auto* once = static_cast<OnceStatements*>(PQinstanceData(conn, OnceStatementsEvent));
  if (event == PGEVT_CONNRESET && once != nullptr) once->names.clear();
  if (event == PGEVT_CONNDESTROY) delete once;
  return 1;
}

OnceStatements& OnceStatementsOf(PGconn* conn) {
  auto* once = static_cast<OnceStatements*>(PQinstanceData(conn, OnceStatementsEvent));
  if (once != nullptr) return *once;
  if (PQregisterEventProc(conn, OnceStatementsEvent, "dtx", nullptr) != 1) {
    Throw(conn, "registering a libpq event procedure");
  }
  once = new OnceStatements;
  if (PQsetInstanceData(conn, OnceStatementsEvent, once) != 1) {
    delete once;
    Throw(conn, "attaching data to a connection");
  }
  return *once;
}

}  // namespace

PgPipeline::PgPipeline(soci::session& sql) : conn_(ConnectionOf(sql)) {}

PgPipeline::~PgPipeline() {
  if (!in_pipeline_) return;
  // A throw left results unread: read what can be read, so the connection is usable.
  if (!synced_) PQpipelineSync(conn_);
  Leave();
}

void PgPipeline::Leave() {
  PGconn* conn = conn_;
  // Results up to the Sync (each message's ends with a null), then the Sync's own.
  // Bounded: with the Sync unsent, PQgetResult answers null forever.
  const size_t most_nulls = 2 * sent_.size() + 2;
  for (size_t nulls = 0; nulls < most_nulls && PQstatus(conn) == CONNECTION_OK;) {
    PGresult* r = PQgetResult(conn);
    if (r == nullptr) {
      ++nulls;
      continue;
    }
    const bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (sync) break;
  }
  if (PQexitPipelineMode(conn) != 1) {
    // Results that could not be read keep the connection in pipeline mode, where
    // SOCI's calls fail: start it afresh (its prepared statements go with it).
    PQreset(conn);
  }
  in_pipeline_ = false;
  sent_.clear();
}

void PgPipeline::Prepare(const std::string& name, const std::string& query) {
  PGconn* conn = conn_;
  const std::string numbered = NumberedParameters(query);
  if (in_pipeline_) {
    if (PQsendPrepare(conn, name.c_str(), numbered.c_str(), 0, nullptr) != 1) {
      Throw(conn, "preparing " + name);
    }
    sent_.push_back(true);
    return;
  }
  PGresult* r = PQprepare(conn, name.c_str(), numbered.c_str(), 0, nullptr);
  const bool ok = r != nullptr && PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  if (!ok) Throw(conn, "preparing " + name);
}

const std::string& PgPipeline::PreparedOnce(const std::string& query) {
  OnceStatements& once = OnceStatementsOf(conn_);
  auto it = once.names.find(query);
  if (it != once.names.end()) return it->second;
  std::string name = NameOf(query);
  PGresult* r =
      PQprepare(conn_, name.c_str(), NumberedParameters(query).c_str(), 0, nullptr);
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  // 42P05: this server connection has it already (under that name, the same SQL).
  const bool ok = r != nullptr && (PQresultStatus(r) == PGRES_COMMAND_OK ||
                                   (state != nullptr && std::string(state) == "42P05"));
  PQclear(r);
  if (!ok) Throw(conn_, "preparing " + name);
  return once.names.emplace(query, std::move(name)).first->second;
}

void PgPipeline::ForgetPrepared() {
  auto* once = static_cast<OnceStatements*>(PQinstanceData(conn_, OnceStatementsEvent));
  if (once != nullptr) once->names.clear();
}

void PgPipeline::Enter() {
  if (in_pipeline_) return;
  if (PQenterPipelineMode(conn_) != 1) Throw(conn_, "entering pipeline mode");
  in_pipeline_ = true;
}

void PgPipeline::SendPlain(const std::string& query) {
  Enter();
  if (PQsendQueryParams(conn_, query.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) !=
      1) {
    Throw(conn_, "sending " + query);
  }
  sent_.push_back(false);
}

void PgPipeline::Send(const std::string& name,
                      const std::vector<std::optional<std::string>>& params) {
  PGconn* conn = conn_;
  Enter();
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::optional<std::string>& p : params) {
    values.push_back(p ? p->c_str() : nullptr);
  }
  if (PQsendQueryPrepared(conn, name.c_str(), static_cast<int>(values.size()),
                          values.data(), nullptr, nullptr, 0) != 1) {
    Throw(conn, "sending " + name);
  }
  sent_.push_back(false);
}

void PgPipeline::Sync() {
  PGconn* conn = conn_;
  if (PQpipelineSync(conn) != 1) Throw(conn, "ending a pipeline");
  synced_ = true;
}

std::optional<long long> PgPipeline::Next(std::string* error) {
  PGconn* conn = conn_;
  std::optional<long long> out;
  std::string failure;
  while (!sent_.empty()) {
    const bool prepare = sent_.front();
    sent_.pop_front();
    PGresult* r = PQgetResult(conn);
    if (r == nullptr) Throw(conn, "reading a pipelined result");
    switch (PQresultStatus(r)) {
      case PGRES_COMMAND_OK:
        if (!prepare) out = std::atoll(PQcmdTuples(r));
        break;
      case PGRES_TUPLES_OK:
        out = PQntuples(r) > 0 && PQnfields(r) > 0 ? std::atoll(PQgetvalue(r, 0, 0)) : 0;
        break;
      case PGRES_PIPELINE_ABORTED:
        if (failure.empty())
          failure = "skipped after an earlier statement of its group failed";
        break;
      default:
        failure = PQresultErrorMessage(r);
        if (const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE)) {
          sqlstate_ = state;
        }
        break;
    }
    PQclear(r);
    // Each message's results end with a null.
    if (PGresult* end = PQgetResult(conn); end != nullptr) {
      PQclear(end);
      Throw(conn, "a pipelined statement answered more than once");
    }
    if (!prepare) break;
  }
  if (!failure.empty()) {
    *error = failure;
    return std::nullopt;
  }
  return out;
}

void PgPipeline::Finish() {
  PGconn* conn = conn_;
  PGresult* r = PQgetResult(conn);
  if (r == nullptr) Throw(conn, "reading the end of a pipeline");
  const bool synced = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
  PQclear(r);
  if (!synced) Throw(conn, "a pipeline did not end where expected");
  if (PQexitPipelineMode(conn) != 1) Throw(conn, "leaving pipeline mode");
  in_pipeline_ = false;
  synced_ = false;
}

std::string NumberedParameters(const std::string& query) {
  std::string out;
  out.reserve(query.size());
  int n = 0;
  for (size_t i = 0; i < query.size(); ++i) {
    const char c = query[i];
    const bool starts_name =
        c == ':' && i + 1 < query.size() &&
        (std::isalpha(static_cast<unsigned char>(query[i + 1])) || query[i + 1] == '_') &&
        (i == 0 || query[i - 1] != ':');
    if (!starts_name) {
      out.push_back(c);
      continue;
    }
    absl::StrAppend(&out, "$", ++n);
    while (
        i + 1 < query.size() &&
        (std::isalnum(static_cast<unsigned char>(query[i + 1])) || query[i + 1] == '_')) {
      ++i;
    }
  }
  return out;
}

}  // namespace dtx::internal
