#include "dtx/soci/soci_store.h"

#include <soci/soci.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "internal/histogram.h"
#include "internal/options_json.h"
#include "soci/pg_pipeline.h"
#include "soci/schema_sql.h"
#include "soci/sql.h"
#include "soci/store_statements.h"

namespace dtx {
namespace {

// The transactions the cron drives (prepared, submitted, aborting), spelled as the
// partial index trans_global_pending is (see sql/sqlite/store.sql for why).
constexpr const char* kUnfinished = "status NOT IN ('succeed', 'failed')";

using internal::DatabaseError;
using internal::FromMillis;
using internal::LocalTransaction;
using internal::ToMillis;

// How many times a write runs when the database keeps choosing it as a deadlock victim.
constexpr int kDeadlockAttempts = 3;

// A nullable BIGINT time column.
struct TimeColumn {
  long long ms = 0;
  soci::indicator ind = soci::i_null;

  absl::Time Get() const {
    return ind == soci::i_ok ? FromMillis(ms) : absl::InfinitePast();
  }
};

// Binds the columns of one trans_global row for SELECT.
struct GlobalRow {
  static constexpr const char* kColumns =
      "id, gid, trans_type, status, query_prepared, protocol, create_time, update_time, "
      "finish_time, rollback_time, options, custom_data, next_cron_interval, "
      "next_cron_time, owner, result, rollback_reason, retry_count";

  long long id = 0;
  std::string gid, trans_type, status, query_prepared, protocol, options, custom_data,
      owner, result, rollback_reason;
  TimeColumn create_time, update_time, finish_time, rollback_time, next_cron_time;
  long long next_cron_interval = 0, retry_count = 0;
  soci::indicator interval_ind = soci::i_null;

  void Bind(soci::statement& st) {
    st.exchange(soci::into(id));
    st.exchange(soci::into(gid));
    st.exchange(soci::into(trans_type));
    st.exchange(soci::into(status));
    st.exchange(soci::into(query_prepared));
    st.exchange(soci::into(protocol));
    st.exchange(soci::into(create_time.ms, create_time.ind));
    st.exchange(soci::into(update_time.ms, update_time.ind));
    st.exchange(soci::into(finish_time.ms, finish_time.ind));
    st.exchange(soci::into(rollback_time.ms, rollback_time.ind));
    st.exchange(soci::into(options));
    st.exchange(soci::into(custom_data));
    st.exchange(soci::into(next_cron_interval, interval_ind));
    st.exchange(soci::into(next_cron_time.ms, next_cron_time.ind));
    st.exchange(soci::into(owner));
    st.exchange(soci::into(result));
    st.exchange(soci::into(rollback_reason));
    st.exchange(soci::into(retry_count));
  }

  absl::StatusOr<TransGlobal> Get() const {
    TransGlobal g;
    g.id = id;
    g.gid = gid;
    g.trans_type = trans_type;
    g.status = status;
    g.query_prepared = query_prepared;
    g.protocol = protocol;
    g.create_time = create_time.Get();
    g.update_time = update_time.Get();
    g.finish_time = finish_time.Get();
    g.rollback_time = rollback_time.Get();
    absl::StatusOr<TransOptions> parsed = internal::OptionsFromJson(options);
    if (!parsed.ok()) {
      return absl::InternalError(
          absl::StrCat("transaction ", gid, ": ", parsed.status().message()));
    }
    g.options = *std::move(parsed);
    g.custom_data = custom_data;
    g.next_cron_interval = interval_ind == soci::i_ok
                               ? absl::Milliseconds(next_cron_interval)
                               : absl::ZeroDuration();
    g.next_cron_time = next_cron_time.Get();
    g.owner = owner;
    g.result = result;
    g.rollback_reason = rollback_reason;
    g.retry_count = retry_count;
    return g;
  }
};

// Runs "SELECT <trans_global columns> FROM trans_global <rest>" with the values `bind`
// adds to the statement, and appends every row to `out`.
absl::Status SelectGlobals(soci::session& sql, const std::string& rest,
                           const std::function<void(soci::statement&)>& bind,
                           std::vector<TransGlobal>* out) {
  GlobalRow row;
  soci::statement st(sql);
  row.Bind(st);
  bind(st);
  st.alloc();
  st.prepare(absl::StrCat("SELECT ", GlobalRow::kColumns, " FROM trans_global ", rest));
  st.define_and_bind();
  st.execute();
  while (st.fetch()) {
    absl::StatusOr<TransGlobal> g = row.Get();
    if (!g.ok()) return g.status();
    out->push_back(*std::move(g));
  }
  return absl::OkStatus();
}

// The bytes of a payload as PostgreSQL's bytea travels through SOCI: hex text.
std::string BytesOfHex(const std::string& hex) { return absl::HexStringToBytes(hex); }

}  // namespace

class SociStore::Impl {
 public:
  // A pooled connection held for one call, with its prepared statements.
  class Lease {
   public:
    explicit Lease(Impl& impl) : impl_(impl), pos_(impl.pool.lease()) {}
    ~Lease() { impl_.pool.give_back(pos_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    soci::session& sql() { return impl_.pool.at(pos_); }
    // Drops the statements: the next user prepares them again.
    void ForgetStatements() { impl_.statements[pos_].reset(); }
    // Prepared on first use. Throws soci::soci_error.
    internal::StoreStatements& statements() {
      std::unique_ptr<internal::StoreStatements>& s = impl_.statements[pos_];
      if (!s) s = std::make_unique<internal::StoreStatements>(sql(), impl_.dialect);
      return *s;
    }
    // A database error as a status. The statements go (they may belong to a broken
    // connection), and a connection that broke is reopened for the next caller.
    absl::Status Failed(const std::string& what, const std::exception& e) {
      absl::Status status = DatabaseError(what, e);
      impl_.statements[pos_].reset();
      try {
        if (!sql().is_connected()) sql().reconnect();
      } catch (const std::exception&) {
        // Still down: the next use tries again.
      }
      return status;
    }

   private:
    Impl& impl_;
    const size_t pos_;
  };

  using Op = std::function<absl::Status(Lease&)>;
  // The same write as one statement in a PostgreSQL pipeline (see PgPipeline): `send`
  // queues it, `read` takes its answer (nullopt: it failed or was skipped, *error
  // says why).
  struct Piped {
    std::function<void(internal::StoreStatements&, internal::PgPipeline&)> send;
    std::function<std::optional<absl::Status>(internal::StoreStatements&,
                                              internal::PgPipeline&, std::string*)>
        read;
  };

  Impl(int size, bool group_commit, int max_batch)
      : pool(size),
        statements(size),
        group_commit(group_commit),
        max_batch(std::max(1, max_batch)) {}
  ~Impl() {
    {
      absl::MutexLock lock(&mu);
      stopping = true;
    }
    for (std::thread& w : writers) w.join();
    statements.clear();  // before the connections close
  }
  // Starts `n` writer threads (group commit only).
  void StartWriters(int n) {
    if (!group_commit) return;
    for (int i = 0; i < n; ++i) writers.emplace_back([this] { WriterLoop(); });
  }

  // Runs `op` inside a write transaction and commits it. With group commit, ops from
  // many threads share one transaction: each caller returns once the commit that
  // holds its op is durable. An op must make no change when it returns an error (it
  // checks before it writes), so that the others' changes can commit with it.
  // `one_statement`: the op is a single statement, atomic by itself (see
  // StoreStatements::IsOneStatement); one written alone then runs without BEGIN and
  // COMMIT (two round trips fewer).
  // `piped`: the op as a pipelined statement (PostgreSQL, one statement ops only): it
  // is written that way, alone or in a batch whose ops all have one (one round trip,
  // committed together).
  absl::Status Write(Op op, const std::string& what, bool one_statement = false,
                     const Piped* piped = nullptr);

  soci::connection_pool pool;
  // statements[i]: those of pool.at(i); only the holder of its lease touches one.
  std::vector<std::unique_ptr<internal::StoreStatements>> statements;
  internal::Dialect dialect = internal::Dialect::kSqlite;

 private:
  struct Pending {
    const Op* op;
    const std::string* what;
    bool one_statement;
    const Piped* piped;
    absl::Status result;
    bool done = false;
  };

  // One write in a transaction of its own (or, with `piped`, as a pipeline of one).
  absl::Status WriteAlone(const Op& op, const std::string& what, bool one_statement,
                          const Piped* piped);
  // Writes `batch` (every op has `piped`) as one pipeline. False when it did not
  // commit: nothing of it was written, and *failure says why (with `what` first).
  bool WritePiped(const std::vector<Pending*>& batch, const std::string& what,
                  absl::Status* failure);
  void WriterLoop();

  const bool group_commit;
  const size_t max_batch;
  absl::Mutex mu;
  std::deque<Pending*> queue ABSL_GUARDED_BY(mu);
  bool stopping ABSL_GUARDED_BY(mu) = false;
  int in_flight ABSL_GUARDED_BY(mu) = 0;  // writes queued or being written
  // Writes running on their caller's thread (Write's "alone" path).
  int writing_alone ABSL_GUARDED_BY(mu) = 0;

 public:
  // The database takes one write transaction at a time (SQLite): a batch then waits
  // for a write running alone instead of meeting its lock, where SQLite's busy
  // handler would sleep a millisecond or more; the batch grows meanwhile.
  bool one_writer = false;

 private:
  std::vector<std::thread> writers;

 public:
  std::atomic<int64_t> writes{0}, commits{0}, pipelined_commits{0};
  // Writes per commit (dtx_store_commit_group_size).
  internal::Histogram group_sizes{internal::Histogram::PowersOfTwo(256)};
};

absl::Status SociStore::Impl::WriteAlone(const Op& op, const std::string& what,
                                         bool one_statement, const Piped* piped) {
  ++writes;
  ++commits;
  group_sizes.Observe(1);
  if (piped != nullptr) {
    Pending alone{&op, &what, one_statement, piped, absl::OkStatus(), false};
    absl::Status failure;
    return WritePiped({&alone}, what, &failure) ? alone.result : failure;
  }
  Lease lease(*this);
  // A deadlock victim is rolled back whole: run again, a few times.
  for (int attempt = 1;; ++attempt) {
    try {
      if (one_statement) {
        return op(lease);  // autocommit: the statement commits (durably) on its own
      }
      LocalTransaction tx(lease.sql(), dialect);
      absl::Status s = op(lease);
      if (s.ok()) tx.Commit();
      return s;
    } catch (const std::exception& e) {
      if (attempt < kDeadlockAttempts && internal::IsDeadlockVictim(e)) {
        lease.ForgetStatements();  // prepared again, from a clean state
        continue;
      }
      return lease.Failed(what, e);
    }
  }
}

absl::Status SociStore::Impl::Write(Op op, const std::string& what, bool one_statement,
                                    const Piped* piped) {
  if (!group_commit) return WriteAlone(op, what, one_statement, piped);
  Pending pending{&op, &what, one_statement, piped, absl::OkStatus(), false};
  {
    absl::MutexLock lock(&mu);
    if (stopping) return absl::UnavailableError("store is closing");
    // Alone right now: write on this thread and spare the hand-over to a writer.
    const bool alone = in_flight == 0;
    ++in_flight;
    if (alone) ++writing_alone;
    if (!alone) {
      queue.push_back(&pending);
      mu.Await(absl::Condition(&pending.done));
      --in_flight;
      return pending.result;
    }
  }
  absl::Status result = WriteAlone(op, what, one_statement, piped);
  absl::MutexLock lock(&mu);
  --in_flight;
  --writing_alone;
  return result;
}

void SociStore::Impl::WriterLoop() {
  while (true) {
    std::vector<Pending*> batch;
    {
      absl::MutexLock lock(&mu);
      mu.Await(absl::Condition(
          +[](Impl* impl) ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl->mu) {
            return impl->stopping || (!impl->queue.empty() &&
                                      !(impl->one_writer && impl->writing_alone > 0));
          },
          this));
      if (queue.empty()) return;  // stopping, all written
      while (!queue.empty() && batch.size() < max_batch) {
        batch.push_back(queue.front());
        queue.pop_front();
      }
    }
    if (batch.size() == 1) {  // nothing to share the commit with
      Pending* p = batch.front();
      p->result = WriteAlone(*p->op, *p->what, p->one_statement, p->piped);
      absl::MutexLock lock(&mu);
      p->done = true;
      continue;
    }
    writes += static_cast<int64_t>(batch.size());
    ++commits;
    bool failed = false;
    const bool piped = std::all_of(batch.begin(), batch.end(),
                                   [](const Pending* p) { return p->piped != nullptr; });
    if (piped) {
      absl::Status ignored;  // each write is tried alone next, and says its own
      failed = !WritePiped(batch, "group commit", &ignored);
    } else {
      Lease lease(*this);
      try {
        LocalTransaction tx(lease.sql(), dialect);
        for (Pending* p : batch) p->result = (*p->op)(lease);
        tx.Commit();
      } catch (const std::exception& e) {
        (void)lease.Failed("group commit", e).ok();
        failed = true;
      }
    }
    if (!failed) group_sizes.Observe(static_cast<double>(batch.size()));
    if (failed) {  // one op broke the shared transaction: each alone, so it fails alone
      writes -= static_cast<int64_t>(batch.size());  // counted again, alone
      for (Pending* p : batch) {
        p->result = WriteAlone(*p->op, *p->what, p->one_statement, p->piped);
      }
    }
    absl::MutexLock lock(&mu);
    for (Pending* p : batch) p->done = true;
  }
}

bool SociStore::Impl::WritePiped(const std::vector<Pending*>& batch,
                                 const std::string& what, absl::Status* failure) {
  Lease lease(*this);
  try {
    internal::StoreStatements& statements = lease.statements();
    internal::PgPipeline pipe(lease.sql());
    for (Pending* p : batch) p->piped->send(statements, pipe);
    pipe.Sync();
    bool failed = false;
    std::string first_error;
    for (Pending* p : batch) {
      std::string error;
      std::optional<absl::Status> result = p->piped->read(statements, pipe, &error);
      if (result) {
        p->result = *std::move(result);
      } else if (!failed) {
        failed = true;
        first_error = error.empty() ? "a pipelined statement failed" : error;
      }
    }
    pipe.Finish();
    if (!failed) {
      ++pipelined_commits;
      return true;
    }
    lease.ForgetStatements();  // the failed statement may have been a Prepare
    *failure = absl::UnavailableError(absl::StrCat(what, ": ", first_error));
    return false;
  } catch (const std::exception& e) {
    *failure = lease.Failed(what, e);
    return false;
  }
}

SociStore::SociStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SociStoreCounts SociStore::Counts() const {
  SociStoreCounts c;
  c.writes = impl_->writes;
  c.commits = impl_->commits;
  c.pipelined_commits = impl_->pipelined_commits;
  return c;
}
SociStore::~SociStore() = default;

absl::StatusOr<std::unique_ptr<SociStore>> SociStore::Open(
    const SociStoreOptions& options) {
  absl::StatusOr<StorageTarget> target = ParseStorageUrl(options.url);
  if (!target.ok()) return target.status();
  const bool memory =
      target->backend == "sqlite3" && absl::StrContains(options.url, ":memory:");
  const int size = memory ? 1 : std::max(1, options.pool_size);
  auto impl = std::make_unique<Impl>(size, options.group_commit, options.max_batch);
  try {
    for (int i = 0; i < size; ++i) {
      if (absl::Status s = OpenSession(impl->pool.at(i), options.url); !s.ok()) return s;
    }
    soci::session sql(impl->pool);
    if (absl::Status s = internal::DialectOf(sql, &impl->dialect); !s.ok()) return s;
    // SQLite has one writer at a time; on a server a second writer sends its batch
    // while the first one's commit waits for the log flush.
    impl->one_writer = impl->dialect == internal::Dialect::kSqlite;
    impl->StartWriters(options.writers > 0                           ? options.writers
                       : impl->dialect == internal::Dialect::kSqlite ? 1
                                                                     : std::min(2, size));
    if (options.create_schema) {
      if (absl::Status s = internal::RunScript(sql, internal::StoreSchema(impl->dialect));
          !s.ok()) {
        return s;
      }
    }
  } catch (const std::exception& e) {
    return DatabaseError(absl::StrCat("opening ", RedactedUrl(options.url)), e);
  }
  return std::unique_ptr<SociStore>(new SociStore(std::move(impl)));
}

absl::Status SociStore::Create(const TransGlobal& g,
                               const std::vector<TransBranch>& branches) {
  const bool one_statement =
      internal::StoreStatements::IsOneStatement(impl_->dialect, branches.size());
  auto exists = [&] {
    return absl::AlreadyExistsError("transaction " + g.gid + " exists");
  };
  // Built only where a pipeline may carry it (two std::function each).
  std::optional<Impl::Piped> piped;
  if (one_statement && impl_->dialect == internal::Dialect::kPostgres) {
    piped = Impl::Piped{[&](internal::StoreStatements& s, internal::PgPipeline& pipe) {
                          s.SendCreate(pipe, g, branches);
                        },
                        [&](internal::StoreStatements& s, internal::PgPipeline& pipe,
                            std::string* error) -> std::optional<absl::Status> {
                          std::optional<bool> written =
                              s.ReadCreate(pipe, branches.size(), error);
                          if (!written) return std::nullopt;
                          return *written ? absl::OkStatus() : exists();
                        }};
  }
  absl::Status written = impl_->Write(
      [&](Impl::Lease& lease) -> absl::Status {
        if (!lease.statements().Create(g, branches)) return exists();
        return absl::OkStatus();
      },
      absl::StrCat("storing transaction ", g.gid), one_statement,
      piped ? &*piped : nullptr);
  if (absl::IsUnavailable(written)) {
    // Two creators of one gid at once: the loser hits the unique key.
    absl::StatusOr<TransGlobal> existing = FindGlobal(g.gid);
    if (existing.ok())
      return absl::AlreadyExistsError("transaction " + g.gid + " exists");
  }
  return written;
}

absl::Status SociStore::AddBranches(std::string_view gid_view,
                                    std::string_view expected_status_view,
                                    const std::vector<TransBranch>& branches,
                                    size_t max_rows, absl::Time now) {
  const std::string gid(gid_view), expected_status(expected_status_view);
  return impl_->Write(
      [&](Impl::Lease& lease) -> absl::Status {
        bool too_many = false;
        std::optional<std::string> status = lease.statements().AddBranches(
            gid, expected_status, branches, max_rows, ToMillis(now), &too_many);
        if (!status) return absl::NotFoundError("no transaction " + gid);
        if (too_many) {
          // Nothing was written (the count is checked first); the error is this op's alone.
          return absl::ResourceExhaustedError(absl::StrCat(
              "transaction ", gid, " would hold more than ", max_rows, " branch rows"));
        }
        if (*status != expected_status) {
          return absl::AbortedError(absl::StrCat("transaction ", gid, " is ", *status,
                                                 ", not ", expected_status));
        }
        return absl::OkStatus();
      },
      absl::StrCat("adding branches to transaction ", gid));
}

absl::StatusOr<TransGlobal> SociStore::FindGlobal(std::string_view gid_view) {
  const std::string gid(gid_view);
  Impl::Lease lease(*impl_);
  soci::session& sql = lease.sql();
  try {
    GlobalRow row;
    soci::statement st(sql);
    row.Bind(st);
    st.exchange(soci::use(gid));
    st.alloc();
    st.prepare(absl::StrCat("SELECT ", GlobalRow::kColumns,
                            " FROM trans_global WHERE gid = :gid"));
    st.define_and_bind();
    if (!st.execute(true)) return absl::NotFoundError("no transaction " + gid);
    return row.Get();
  } catch (const std::exception& e) {
    return lease.Failed(absl::StrCat("reading transaction ", gid), e);
  }
}

absl::StatusOr<std::vector<TransBranch>> SociStore::FindBranches(
    std::string_view gid_view) {
  const std::string gid(gid_view);
  Impl::Lease lease(*impl_);
  soci::session& sql = lease.sql();
  std::vector<TransBranch> out;
  const bool hex = impl_->dialect == internal::Dialect::kPostgres;
  try {
    long long id = 0;
    std::string url, bin_data, branch_id, op, status;
    TimeColumn create_time, update_time, finish_time, rollback_time;
    soci::indicator bin_ind = soci::i_null;
    soci::statement st =
        (sql.prepare
             << std::string("SELECT id, url, ") +
                    (hex ? "encode(bin_data, 'hex')" : "bin_data") +
                    ", branch_id, op, status, create_time, update_time, finish_time, "
                    "rollback_time FROM trans_branch_op WHERE gid = :gid ORDER BY id",
         soci::use(gid), soci::into(id), soci::into(url), soci::into(bin_data, bin_ind),
         soci::into(branch_id), soci::into(op), soci::into(status),
         soci::into(create_time.ms, create_time.ind),
         soci::into(update_time.ms, update_time.ind),
         soci::into(finish_time.ms, finish_time.ind),
         soci::into(rollback_time.ms, rollback_time.ind));
    st.execute();
    while (st.fetch()) {
      TransBranch b;
      b.id = id;
      b.gid = gid;
      b.url = url;
      b.bin_data = bin_ind != soci::i_ok ? std::string()
                   : hex                 ? BytesOfHex(bin_data)
                                         : bin_data;
      b.branch_id = branch_id;
      b.op = op;
      b.status = status;
      b.create_time = create_time.Get();
      b.update_time = update_time.Get();
      b.finish_time = finish_time.Get();
      b.rollback_time = rollback_time.Get();
      out.push_back(std::move(b));
    }
  } catch (const std::exception& e) {
    return lease.Failed(absl::StrCat("reading the branches of ", gid), e);
  }
  return out;
}

absl::Status SociStore::Update(std::string_view gid_view,
                               std::string_view expected_status_view,
                               std::string_view expected_owner_view,
                               const std::vector<BranchUpdate>& branches,
                               const GlobalUpdate& u, absl::Time now) {
  const std::string gid(gid_view), expected_status(expected_status_view),
      expected_owner(expected_owner_view);
  const long long now_ms = ToMillis(now);
  const bool one_statement =
      internal::StoreStatements::IsOneStatement(impl_->dialect, branches.size());
  auto lost = [&] {
    return absl::AbortedError(absl::StrCat("transaction ", gid, " is no longer ",
                                           expected_status, " and owned by '",
                                           expected_owner, "'"));
  };
  // Built only where a pipeline may carry it (two std::function each).
  std::optional<Impl::Piped> piped;
  if (one_statement && impl_->dialect == internal::Dialect::kPostgres) {
    piped = Impl::Piped{[&](internal::StoreStatements& s, internal::PgPipeline& pipe) {
                          s.SendUpdate(pipe, gid, expected_status, expected_owner,
                                       branches, u, now_ms);
                        },
                        [&](internal::StoreStatements& s, internal::PgPipeline& pipe,
                            std::string* error) -> std::optional<absl::Status> {
                          std::optional<bool> matched = s.ReadUpdate(pipe, error);
                          if (!matched) return std::nullopt;
                          return *matched ? absl::OkStatus() : lost();
                        }};
  }
  return impl_->Write(
      [&](Impl::Lease& lease) -> absl::Status {
        if (!lease.statements().Update(gid, expected_status, expected_owner, branches, u,
                                       now_ms)) {
          return lost();
        }
        return absl::OkStatus();
      },
      absl::StrCat("updating transaction ", gid), one_statement,
      piped ? &*piped : nullptr);
}

absl::StatusOr<std::vector<TransGlobal>> SociStore::ClaimDue(absl::Time now,
                                                             absl::Time lease_until,
                                                             std::string_view owner_view,
                                                             int limit) {
  const std::string owner(owner_view);
  long long now_ms = ToMillis(now), lease_ms = ToMillis(lease_until);
  std::vector<TransGlobal> claimed;
  Impl::Lease lease(*impl_);
  soci::session& sql = lease.sql();
  try {
    LocalTransaction tx(sql, impl_->dialect);
    std::vector<std::string> due;
    absl::flat_hash_map<std::string, std::string> owners;  // of the due, if leased
    {
      std::string gid, previous;
      soci::indicator previous_ind = soci::i_ok;
      soci::statement select =
          (sql.prepare
               << "SELECT gid, owner FROM trans_global WHERE " << kUnfinished
               << " AND next_cron_time <= :now ORDER BY next_cron_time LIMIT :limit",
           soci::use(now_ms), soci::use(limit), soci::into(gid),
           soci::into(previous, previous_ind));
      select.execute();
      while (select.fetch()) {
        due.push_back(gid);
        if (previous_ind == soci::i_ok && !previous.empty()) owners[gid] = previous;
      }
    }
    std::string gid;
    soci::statement claim =
        (sql.prepare
             << "UPDATE trans_global SET owner = :owner, next_cron_time = :lease, "
                "update_time = :now WHERE gid = :gid AND "
             << kUnfinished << " AND next_cron_time <= :due",
         soci::use(owner), soci::use(lease_ms), soci::use(now_ms), soci::use(gid),
         soci::use(now_ms));
    std::vector<std::string> won;
    for (const std::string& candidate : due) {
      gid = candidate;
      claim.execute(true);
      if (claim.get_affected_rows() == 1) won.push_back(candidate);
    }
    GlobalRow row;
    soci::statement read(sql);
    row.Bind(read);
    read.exchange(soci::use(gid));
    read.alloc();
    read.prepare(absl::StrCat("SELECT ", GlobalRow::kColumns,
                              " FROM trans_global WHERE gid = :gid"));
    read.define_and_bind();
    for (const std::string& candidate : won) {
      gid = candidate;
      if (!read.execute(true)) continue;
      absl::StatusOr<TransGlobal> g = row.Get();
      if (!g.ok()) return g.status();
      if (auto it = owners.find(candidate); it != owners.end()) {
        g->taken_from = it->second;
      }
      claimed.push_back(*std::move(g));
    }
    tx.Commit();
  } catch (const std::exception& e) {
    return lease.Failed("claiming due transactions", e);
  }
  return claimed;
}

absl::StatusOr<std::vector<TransGlobal>> SociStore::List(int64_t before_id,
                                                         std::string_view status_view,
                                                         std::string_view type_view,
                                                         int limit) {
  const std::string status(status_view), trans_type(type_view);
  long long before = before_id > 0 ? before_id : std::numeric_limits<long long>::max();
  std::vector<TransGlobal> out;
  Impl::Lease lease(*impl_);
  soci::session& sql = lease.sql();
  try {
    absl::Status s = SelectGlobals(
        sql,
        absl::StrCat("WHERE id < :before", status.empty() ? "" : " AND status = :status",
                     trans_type.empty() ? "" : " AND trans_type = :trans_type",
                     " ORDER BY id DESC LIMIT :limit"),
        [&](soci::statement& st) {
          st.exchange(soci::use(before));
          if (!status.empty()) st.exchange(soci::use(status));
          if (!trans_type.empty()) st.exchange(soci::use(trans_type));
          st.exchange(soci::use(limit));
        },
        &out);
    if (!s.ok()) return s;
  } catch (const std::exception& e) {
    return lease.Failed("listing transactions", e);
  }
  return out;
}

absl::StatusOr<std::vector<TransGlobal>> SociStore::ListUnfinished(
    absl::Time created_before, int limit) {
  long long before = ToMillis(created_before);
  std::vector<TransGlobal> out;
  Impl::Lease lease(*impl_);
  soci::session& sql = lease.sql();
  try {
    absl::Status s = SelectGlobals(
        sql,
        absl::StrCat("WHERE ", kUnfinished,
                     " AND create_time < :before ORDER BY create_time LIMIT :limit"),
        [&](soci::statement& st) {
          st.exchange(soci::use(before));
          st.exchange(soci::use(limit));
        },
        &out);
    if (!s.ok()) return s;
  } catch (const std::exception& e) {
    return lease.Failed("listing unfinished transactions", e);
  }
  return out;
}

absl::StatusOr<int64_t> SociStore::CountUnfinished(absl::Time created_before) {
  const bool all = created_before == absl::InfiniteFuture();
  long long before = all ? 0 : ToMillis(created_before);
  long long count = 0;
  Impl::Lease lease(*impl_);
  try {
    soci::session& sql = lease.sql();
    if (all) {
      sql << "SELECT COUNT(*) FROM trans_global WHERE " << kUnfinished, soci::into(count);
    } else {
      sql << "SELECT COUNT(*) FROM trans_global WHERE " << kUnfinished
          << " AND create_time < :before",
          soci::use(before), soci::into(count);
    }
  } catch (const std::exception& e) {
    return lease.Failed("counting unfinished transactions", e);
  }
  return static_cast<int64_t>(count);
}

void SociStore::CollectMetrics(std::vector<Metric>& out) {
  Metric& m = out.emplace_back();
  m.name = "dtx_store_commit_group_size";
  m.help = "Writes committed together in one database transaction (group commit).";
  m.type = MetricType::kHistogram;
  impl_->group_sizes.Snapshot(m.samples.emplace_back());
}

absl::StatusOr<int> SociStore::DeleteFinished(absl::Time finished_before, int limit) {
  long long before = ToMillis(finished_before);
  Impl::Lease lease(*impl_);
  soci::session& sql = lease.sql();
  try {
    LocalTransaction tx(sql, impl_->dialect);
    std::vector<std::string> gids;
    {
      std::string gid;
      soci::statement select =
          (sql.prepare
               << "SELECT gid FROM trans_global WHERE status IN ('succeed', 'failed') "
                  "AND finish_time < :before ORDER BY finish_time LIMIT :limit",
           soci::use(before), soci::use(limit), soci::into(gid));
      select.execute();
      while (select.fetch()) gids.push_back(gid);
    }
    std::string gid;
    soci::statement branches =
        (sql.prepare << "DELETE FROM trans_branch_op WHERE gid = :gid", soci::use(gid));
    soci::statement global =
        (sql.prepare << "DELETE FROM trans_global WHERE gid = :gid AND status IN "
                        "('succeed', 'failed')",
         soci::use(gid));
    for (const std::string& g : gids) {
      gid = g;
      branches.execute(true);
      global.execute(true);
    }
    tx.Commit();
    return static_cast<int>(gids.size());
  } catch (const std::exception& e) {
    return lease.Failed("deleting finished transactions", e);
  }
}

}  // namespace dtx
