#include "soci/pg_pipeline.h"

#include <libpq-fe.h>
#include <soci/postgresql/soci-postgresql.h>

#include <cctype>
#include <cstdlib>

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

void PgPipeline::Send(const std::string& name,
                      const std::vector<std::optional<std::string>>& params) {
  PGconn* conn = conn_;
  if (!in_pipeline_) {
    if (PQenterPipelineMode(conn) != 1) Throw(conn, "entering pipeline mode");
    in_pipeline_ = true;
  }
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
