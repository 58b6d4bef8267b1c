#include "dtx/soci/soci_store.h"

#include <soci/soci.h>

#include <algorithm>
#include <limits>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "internal/branch_rows.h"
#include "soci/group_commit.h"
#include "soci/layout_migration.h"
#include "soci/sql.h"
#include "soci/store_statements.h"

namespace dtx {

using internal::DatabaseError;
using internal::LocalTransaction;
using internal::ToMillis;

class SociStore::Impl : public internal::GroupCommit {
 public:
  using GroupCommit::GroupCommit;
};

namespace {

// A lock the database holds for this session (PostgreSQL's advisory lock, MySQL's
// named lock; SQLite's file lock already serialises schema changes), released when
// the object goes or the session ends. Throws soci::soci_error.
class SchemaLock {
 public:
  SchemaLock(soci::session& sql, internal::Dialect dialect)
      : sql_(sql), dialect_(dialect) {
    if (dialect_ == internal::Dialect::kPostgres) {
      sql_ << "SELECT pg_advisory_lock(7283011500)";
    } else if (dialect_ == internal::Dialect::kMysql) {
      int got = 0;
      sql_ << "SELECT GET_LOCK('dtx_store_schema', 60)", soci::into(got);
      if (got != 1) throw soci::soci_error("waited 60 s for dtx_store_schema");
    }
  }
  ~SchemaLock() {
    try {
      if (dialect_ == internal::Dialect::kPostgres) {
        sql_ << "SELECT pg_advisory_unlock(7283011500)";
      } else if (dialect_ == internal::Dialect::kMysql) {
        sql_ << "SELECT RELEASE_LOCK('dtx_store_schema')";
      }
    } catch (const std::exception&) {
      // The session is gone, and its lock with it.
    }
  }
  SchemaLock(const SchemaLock&) = delete;
  SchemaLock& operator=(const SchemaLock&) = delete;

 private:
  soci::session& sql_;
  const internal::Dialect dialect_;
};

}  // namespace

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
    // SQLite has one writer at a time. On PostgreSQL one writer's pipelines carry the
    // largest groups (a group is one round trip). On MySQL a group is a round trip per
    // statement, and a second writer sends its group while the first one's commit
    // waits for the log flush.
    impl->one_writer = impl->dialect == internal::Dialect::kSqlite;
    impl->lazy_wait =
        std::clamp(options.lazy_write_wait, absl::ZeroDuration(), absl::Seconds(1));
    impl->StartWriters(options.writers > 0                          ? options.writers
                       : impl->dialect == internal::Dialect::kMysql ? std::min(2, size)
                                                                    : 1);
    if (options.create_schema) {
      // One process at a time: PostgreSQL's CREATE TABLE IF NOT EXISTS fails when
      // another session creates the same table at once (two dtxd starting together).
      SchemaLock lock(sql, impl->dialect);
      if (absl::Status s = internal::RunScript(sql, internal::StoreSchema(impl->dialect));
          !s.ok()) {
        return s;
      }
      if (absl::Status s = internal::MigrateTwoTableLayout(sql, impl->dialect); !s.ok()) {
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
  if (absl::Status s = internal::CheckBranchRows(g.gid, branches); !s.ok()) return s;
  auto exists = [&] {
    return absl::AlreadyExistsError("transaction " + g.gid + " exists");
  };
  // Built only where a pipeline may carry it (two std::function each).
  std::optional<Impl::Piped> piped;
  if (impl_->dialect == internal::Dialect::kPostgres) {
    piped = Impl::Piped{[&](internal::StoreStatements& s, internal::PgPipeline& pipe) {
                          s.SendCreate(pipe, g, branches);
                        },
                        [&](internal::StoreStatements& s, internal::PgPipeline& pipe,
                            std::string* error) -> std::optional<absl::Status> {
                          std::optional<bool> written = s.ReadCreate(pipe, error);
                          if (!written) return std::nullopt;
                          return *written ? absl::OkStatus() : exists();
                        }};
  }
  absl::Status written = impl_->Write(
      [&](Impl::Lease& lease) -> absl::Status {
        if (!lease.statements().Create(g, branches)) return exists();
        return absl::OkStatus();
      },
      absl::StrCat("storing transaction ", g.gid), /*one_statement=*/true,
      piped ? &*piped : nullptr);
  if (absl::IsUnavailable(written)) {
    // Two creators of one gid at once: the loser hits the unique key.
    absl::StatusOr<TransGlobal> existing = FindGlobal(g.gid);
    if (existing.ok()) return exists();
  }
  return written;
}

absl::Status SociStore::AddBranches(std::string_view gid_view,
                                    std::string_view expected_status_view,
                                    const std::vector<TransBranch>& branches,
                                    size_t max_rows, absl::Time now) {
  const std::string gid(gid_view), expected_status(expected_status_view);
  if (absl::Status s = internal::CheckBranchRows(gid, branches); !s.ok()) return s;
  return impl_->Write(
      [&](Impl::Lease& lease) -> absl::Status {
        bool too_many = false;
        absl::StatusOr<std::optional<std::string>> read = lease.statements().AddBranches(
            gid, expected_status, branches, max_rows, ToMillis(now), &too_many);
        if (!read.ok()) return read.status();
        const std::optional<std::string>& status = *read;
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
  try {
    std::optional<absl::StatusOr<TransGlobal>> g = lease.statements().FindGlobal(gid);
    if (!g) return absl::NotFoundError("no transaction " + gid);
    return *std::move(g);
  } catch (const std::exception& e) {
    return lease.Failed(absl::StrCat("reading transaction ", gid), e);
  }
}

absl::StatusOr<std::vector<TransBranch>> SociStore::FindBranches(
    std::string_view gid_view) {
  const std::string gid(gid_view);
  Impl::Lease lease(*impl_);
  try {
    return lease.statements().FindBranches(gid);
  } catch (const std::exception& e) {
    return lease.Failed(absl::StrCat("reading the branches of ", gid), e);
  }
}

namespace {

// What one Update writes, and the write itself as GroupCommit takes it: `op`, and on
// PostgreSQL `piped`. Both refer to this object, which refers to the caller's branch
// results and update (OwnedUpdateWrite holds copies).
struct UpdateWrite {
  UpdateWrite(std::string_view gid, std::string_view expected_status,
              std::string_view expected_owner, const std::vector<BranchUpdate>* branches,
              const GlobalUpdate* u, absl::Time now, internal::Dialect dialect)
      : gid(gid),
        expected_status(expected_status),
        expected_owner(expected_owner),
        branches(branches),
        u(u),
        now_ms(ToMillis(now)) {
    op = [this](internal::GroupCommit::Lease& lease) -> absl::Status {
      return lease.statements().Update(this->gid, this->expected_status,
                                       this->expected_owner, *this->branches, *this->u,
                                       now_ms)
                 ? absl::OkStatus()
                 : Lost();
    };
    // Built only where a pipeline may carry it (two std::function each).
    if (dialect != internal::Dialect::kPostgres) return;
    piped = internal::GroupCommit::Piped{
        [this](internal::StoreStatements& s, internal::PgPipeline& pipe) {
          s.SendUpdate(pipe, this->gid, this->expected_status, this->expected_owner,
                       *this->branches, *this->u, now_ms);
        },
        [this](internal::StoreStatements& s, internal::PgPipeline& pipe,
               std::string* error) -> std::optional<absl::Status> {
          std::optional<bool> matched = s.ReadUpdate(pipe, error);
          if (!matched) return std::nullopt;
          return *matched ? absl::OkStatus() : Lost();
        }};
  }
  UpdateWrite(const UpdateWrite&) = delete;
  UpdateWrite& operator=(const UpdateWrite&) = delete;

  absl::Status Lost() const {
    return absl::AbortedError(absl::StrCat("transaction ", gid, " is no longer ",
                                           expected_status, " and owned by '",
                                           expected_owner, "'"));
  }
  std::string What() const { return absl::StrCat("updating transaction ", gid); }

  const std::string gid, expected_status, expected_owner;
  const std::vector<BranchUpdate>* branches;
  const GlobalUpdate* u;
  const long long now_ms;
  internal::GroupCommit::Op op;
  std::optional<internal::GroupCommit::Piped> piped;
};

// An UpdateWrite that owns its branch results and update, for a write nobody waits on.
struct OwnedUpdateWrite {
  OwnedUpdateWrite(std::string_view gid, std::string_view expected_status,
                   std::string_view expected_owner, std::vector<BranchUpdate> results,
                   const GlobalUpdate& update, absl::Time now, internal::Dialect dialect)
      : results(std::move(results)),
        update(update),
        write(gid, expected_status, expected_owner, &this->results, &this->update, now,
              dialect) {}
  const std::vector<BranchUpdate> results;
  const GlobalUpdate update;
  UpdateWrite write;
};

}  // namespace

absl::Status SociStore::Update(std::string_view gid, std::string_view expected_status,
                               std::string_view expected_owner,
                               const std::vector<BranchUpdate>& branches,
                               const GlobalUpdate& u, absl::Time now) {
  if (absl::Status s = internal::CheckBranchResults(gid, branches); !s.ok()) return s;
  const UpdateWrite w(gid, expected_status, expected_owner, &branches, &u, now,
                      impl_->dialect);
  return impl_->Write(w.op, w.What(), /*one_statement=*/true,
                      w.piped ? &*w.piped : nullptr, u.lazy);
}

void SociStore::UpdateAsync(std::string_view gid, std::string_view expected_status,
                            std::string_view expected_owner,
                            const std::vector<BranchUpdate>& branches,
                            const GlobalUpdate& u, absl::Time now, UpdateDone done) {
  if (!u.lazy) {
    std::move(done)(Update(gid, expected_status, expected_owner, branches, u, now));
    return;
  }
  if (absl::Status s = internal::CheckBranchResults(gid, branches); !s.ok()) {
    std::move(done)(std::move(s));
    return;
  }
  auto owned = std::make_shared<const OwnedUpdateWrite>(
      gid, expected_status, expected_owner, branches, u, now, impl_->dialect);
  auto deferred = std::make_unique<Impl::Deferred>();
  deferred->op = owned->write.op;  // as piped: refers to *owned, which keep holds
  deferred->what = owned->write.What();
  deferred->one_statement = true;
  deferred->piped = owned->write.piped;
  deferred->keep = owned;
  deferred->done = std::move(done);
  impl_->WriteDeferred(std::move(deferred));
}

absl::StatusOr<std::vector<TransGlobal>> SociStore::ClaimDue(absl::Time now,
                                                             absl::Time lease_until,
                                                             std::string_view owner,
                                                             int limit) {
  Impl::Lease lease(*impl_);
  try {
    LocalTransaction tx(lease.sql(), impl_->dialect);
    absl::StatusOr<std::vector<TransGlobal>> claimed = lease.statements().ClaimDue(
        ToMillis(now), ToMillis(lease_until), std::string(owner), limit);
    if (claimed.ok()) tx.Commit();
    return claimed;
  } catch (const std::exception& e) {
    return lease.Failed("claiming due transactions", e);
  }
}

absl::StatusOr<std::vector<TransGlobal>> SociStore::List(int64_t before_id,
                                                         std::string_view status,
                                                         std::string_view trans_type,
                                                         int limit) {
  Impl::Lease lease(*impl_);
  try {
    return lease.statements().List(
        before_id > 0 ? before_id : std::numeric_limits<long long>::max(),
        std::string(status), std::string(trans_type), limit);
  } catch (const std::exception& e) {
    return lease.Failed("listing transactions", e);
  }
}

absl::StatusOr<std::vector<TransGlobal>> SociStore::ListUnfinished(
    absl::Time created_before, int limit) {
  Impl::Lease lease(*impl_);
  try {
    return lease.statements().ListUnfinished(ToMillis(created_before), limit);
  } catch (const std::exception& e) {
    return lease.Failed("listing unfinished transactions", e);
  }
}

absl::StatusOr<int64_t> SociStore::CountUnfinished(absl::Time created_before) {
  Impl::Lease lease(*impl_);
  try {
    return static_cast<int64_t>(lease.statements().CountUnfinished(
        created_before == absl::InfiniteFuture()
            ? std::nullopt
            : std::optional<long long>(ToMillis(created_before))));
  } catch (const std::exception& e) {
    return lease.Failed("counting unfinished transactions", e);
  }
}

void SociStore::CollectMetrics(std::vector<Metric>& out) {
  Metric& m = out.emplace_back();
  m.name = "dtx_store_commit_group_size";
  m.help = "Writes committed together in one database transaction (group commit).";
  m.type = MetricType::kHistogram;
  impl_->group_sizes.Snapshot(m.samples.emplace_back());
}

absl::StatusOr<int> SociStore::DeleteFinished(absl::Time finished_before, int limit) {
  Impl::Lease lease(*impl_);
  try {
    LocalTransaction tx(lease.sql(), impl_->dialect);
    const int deleted =
        lease.statements().DeleteFinished(ToMillis(finished_before), limit);
    tx.Commit();
    return deleted;
  } catch (const std::exception& e) {
    return lease.Failed("deleting finished transactions", e);
  }
}

}  // namespace dtx
