// The writes of SociStore: a pool of connections, each with its prepared statements,
// and group commit, which puts the writes of many concurrent callers into one database
// transaction (on PostgreSQL, one pipeline: one round trip). Each caller returns once
// the commit that holds its write is durable: nothing is traded for the speed.
#ifndef DTX_SOCI_GROUP_COMMIT_H_
#define DTX_SOCI_GROUP_COMMIT_H_

#include <soci/soci.h>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "internal/histogram.h"
#include "soci/pg_pipeline.h"
#include "soci/sql.h"
#include "soci/store_statements.h"

namespace dtx::internal {

// Thread-safe.
class GroupCommit {
 public:
  // A pooled connection held for one call, with its prepared statements.
  class Lease {
   public:
    explicit Lease(GroupCommit& impl) : impl_(impl), pos_(impl.pool.lease()) {}
    ~Lease() { impl_.pool.give_back(pos_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    soci::session& sql() { return impl_.pool.at(pos_); }
    // Drops the statements: the next user prepares them again.
    void ForgetStatements() { impl_.statements[pos_].reset(); }
    // Prepared on first use. Throws soci::soci_error.
    StoreStatements& statements() {
      std::unique_ptr<StoreStatements>& s = impl_.statements[pos_];
      if (!s) s = std::make_unique<StoreStatements>(sql(), impl_.dialect);
      return *s;
    }
    // A database error as a status. The statements go (they may belong to a broken
    // connection), and a connection that broke is reopened for the next caller, with
    // the session settings OpenSession gave it (a reconnect drops them).
    absl::Status Failed(const std::string& what, const std::exception& e) {
      absl::Status status = DatabaseError(what, e);
      impl_.statements[pos_].reset();
      try {
        if (!sql().is_connected()) {
          sql().reconnect();
          try {
            SetUpSession(sql(), impl_.dialect);
          } catch (const std::exception&) {
            sql().close();  // not used without its settings: reopened next time
            throw;
          }
        }
      } catch (const std::exception&) {
        // Still down: the next use tries again.
      }
      return status;
    }

   private:
    GroupCommit& impl_;
    const size_t pos_;
  };

  using Op = std::function<absl::Status(Lease&)>;
  // The same write as one statement in a PostgreSQL pipeline (see PgPipeline): `send`
  // queues it, `read` takes its answer (nullopt: it failed or was skipped, *error
  // says why).
  struct Piped {
    std::function<void(StoreStatements&, PgPipeline&)> send;
    std::function<std::optional<absl::Status>(StoreStatements&, PgPipeline&,
                                              std::string*)>
        read;
  };

  GroupCommit(int size, bool group_commit, int max_batch)
      : pool(size),
        statements(size),
        group_commit(group_commit),
        max_batch(std::max(1, max_batch)) {}
  ~GroupCommit() {
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
  // `one_statement`: the op is a single statement, atomic by itself; one written alone
  // then runs without BEGIN and COMMIT (two round trips fewer).
  // `piped`: the op as a pipelined statement (PostgreSQL, one statement ops only): it
  // is written that way, alone or in a batch whose ops all have one (one round trip,
  // committed together).
  // `lazy`: nobody waits on this write's latency. It waits in the queue until a write
  // that is not lazy comes (and commits with it), for at most `lazy_wait`, or until
  // the store closes; then it is written as any other. Without group commit it is
  // written at once.
  absl::Status Write(Op op, const std::string& what, bool one_statement = false,
                     const Piped* piped = nullptr, bool lazy = false);

  // A lazy write whose caller does not wait for it: it holds what its op needs, and
  // `done` gets the result on the thread that commits it.
  struct Deferred;
  // Queues `write` as a lazy write (see Write) and returns at once; `done` may run
  // before that (the store closing: kUnavailable). Without group commit it is written
  // here, now.
  void WriteDeferred(std::unique_ptr<Deferred> write);

  soci::connection_pool pool;
  // statements[i]: those of pool.at(i); only the holder of its lease touches one.
  std::vector<std::unique_ptr<StoreStatements>> statements;
  Dialect dialect = Dialect::kSqlite;

 private:
  struct Pending {
    const Op* op;
    const std::string* what;
    bool one_statement;
    const Piped* piped;
    absl::Status result;
    bool done = false;
    bool lazy = false;
    absl::Time due;  // lazy: written alone from then on
    Deferred* deferred = nullptr;  // owns this Pending; nobody waits on `done`
  };

 public:
  struct Deferred {
    Op op;
    std::string what;
    bool one_statement = false;
    std::optional<Piped> piped;
    std::shared_ptr<const void> keep;  // what `op` and `piped` refer to
    absl::AnyInvocable<void(absl::Status) &&> done;
    Pending pending{};
  };

 private:
  // One write in a transaction of its own (or, with `piped`, as a pipeline of one).
  absl::Status WriteAlone(const Op& op, const std::string& what, bool one_statement,
                          const Piped* piped);
  // Writes `batch` (every op has `piped`) as one pipeline. False when it did not
  // commit: nothing of it was written, and *failure says why (with `what` first).
  bool WritePiped(const std::vector<Pending*>& batch, const std::string& what,
                  absl::Status* failure);
  // Writes `batch` in one commit (alone when it is one write), setting each result.
  void Commit(const std::vector<Pending*>& batch);
  // Marks `batch` written: its waiting callers go on; its deferred writes move to
  // `deferred`, for Answer once mu is released.
  void Complete(const std::vector<Pending*>& batch, std::vector<Deferred*>& deferred)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  static void Answer(std::vector<Deferred*>& deferred);
  // Moves up to `max` writes from the front of the queue into `batch`.
  void Take(std::vector<Pending*>& batch, size_t max) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // A writer may take a batch now.
  bool Ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // When the writer must look again though nothing changes: the first lazy write's
  // due time, when only lazy writes wait; else never.
  absl::Time LazyDeadline() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void WriterLoop();

  const bool group_commit;
  const size_t max_batch;
  absl::Mutex mu;
  std::deque<Pending*> queue ABSL_GUARDED_BY(mu);
  bool stopping ABSL_GUARDED_BY(mu) = false;
  int in_flight ABSL_GUARDED_BY(mu) = 0;  // writes queued or being written
  size_t lazy_queued ABSL_GUARDED_BY(mu) = 0;  // of the queue, lazy writes
  // Writes running on their caller's thread (Write's "alone" path).
  int writing_alone ABSL_GUARDED_BY(mu) = 0;

 public:
  // The database takes one write transaction at a time (SQLite): a batch then waits
  // for a write running alone instead of meeting its lock, where SQLite's busy
  // handler would sleep a millisecond or more; the batch grows meanwhile.
  bool one_writer = false;
  absl::Duration lazy_wait = absl::Milliseconds(2);

 private:
  std::vector<std::thread> writers;

 public:
  std::atomic<int64_t> writes{0}, commits{0}, pipelined_commits{0};
  // Writes per commit (dtx_store_commit_group_size).
  Histogram group_sizes{Histogram::PowersOfTwo(256)};
};

}  // namespace dtx::internal

#endif  // DTX_SOCI_GROUP_COMMIT_H_
