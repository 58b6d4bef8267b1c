// PostgreSQL: several prepared statements sent in one round trip and committed as one
// transaction, through libpq's pipeline mode on a SOCI session's connection.
//
// Why: group commit on a server otherwise costs a round trip for BEGIN, one per write
// and one for COMMIT, each waking the writer and the server's backend; a pipeline is
// one. The statements between two Syncs form one implicit transaction: the first that
// fails rolls back the ones before it and the server skips the ones after it.
#ifndef DTX_SOCI_PG_PIPELINE_H_
#define DTX_SOCI_PG_PIPELINE_H_

#include <soci/soci.h>

#include <deque>
#include <optional>
#include <string>
#include <vector>

struct pg_conn;  // libpq's PGconn

namespace dtx::internal {

// Use: Prepare what is not yet prepared on the connection, Send each statement, Sync,
// then Next once per statement sent, in order, then Finish. Every method throws
// soci::soci_error when the connection fails; the session must then be dropped or
// reconnected. Not thread-safe (one connection, one user).
class PgPipeline {
 public:
  // `sql`: a session on PostgreSQL, idle (no statement running). Throws when it is
  // not connected.
  explicit PgPipeline(soci::session& sql);
  ~PgPipeline();  // leaves pipeline mode when a throw left it in it
  PgPipeline(const PgPipeline&) = delete;
  PgPipeline& operator=(const PgPipeline&) = delete;

  // Prepares `query` under `name`: at once, or inside the pipeline once one was
  // entered (its answer is then read by the Next that follows it). `query` names its
  // parameters as SOCI does (":name"); they are numbered in the order they appear.
  void Prepare(const std::string& name, const std::string& query);

  // The name `query` is prepared under on this connection, preparing it (at once) the
  // first time it is asked for. The connection remembers it for its life: a reset or
  // a new connection prepares again. For statements run by many short-lived objects
  // (a Barrier per branch call) that would otherwise be parsed and planned each time.
  // REQUIRES: outside pipeline mode (before the first Send).
  const std::string& PreparedOnce(const std::string& query);

  // Forgets what PreparedOnce prepared on this connection, for when the server did
  // (DISCARD ALL or DEALLOCATE ALL by other code, a pooler between): the next use
  // prepares again.
  void ForgetPrepared();

  // Queues `query` with no parameters and no preparing (BEGIN, say).
  void SendPlain(const std::string& query);

  // Queues an execution of the prepared statement `name`; a parameter without a value
  // is NULL. Enters pipeline mode on the first call.
  void Send(const std::string& name,
            const std::vector<std::optional<std::string>>& params);

  // Ends the group: the server runs and commits it.
  void Sync();

  // The answer of the next statement sent: the rows it affected, or for a query the
  // first column of its first row. nullopt when it failed (*error says why) or was
  // skipped after an earlier failure: then nothing of the group was committed.
  std::optional<long long> Next(std::string* error);

  // Reads the end of the group and leaves pipeline mode.
  void Finish();

  // The SQLSTATE of the last statement that failed in Next ("" when none did).
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  void Enter();
  void Leave();

  pg_conn* conn_;  // libpq's PGconn, not owned
  bool in_pipeline_ = false;
  bool synced_ = false;
  // Per message sent in the pipeline and not yet read: whether it is a Prepare.
  std::deque<bool> sent_;
  std::string sqlstate_;
};

// "... :a ... :b ..." as "... $1 ... $2 ...". A ':' that does not start a name (as in
// "::" casts) is left as it is.
std::string NumberedParameters(const std::string& query);

}  // namespace dtx::internal

#endif  // DTX_SOCI_PG_PIPELINE_H_
