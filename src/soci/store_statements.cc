#include "soci/store_statements.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "internal/options_json.h"

namespace dtx::internal {
namespace {

constexpr size_t kMaxTextColumn = 1024;  // DTM's varchar(1024) columns

std::string Clip(const std::string& s) {
  return s.size() > kMaxTextColumn ? s.substr(0, kMaxTextColumn) : s;
}

// A value for "SET col = COALESCE(:v, col)": null keeps the column as it is.
template <typename T>
struct Nullable {
  T value{};
  soci::indicator ind = soci::i_null;

  template <typename U, typename F>
  void Set(const std::optional<U>& v, F convert) {
    ind = v ? soci::i_ok : soci::i_null;
    if (v) value = convert(*v);
  }
};

// Prepares `query` on `st` once its use() elements are exchanged.
void Prepare(soci::statement& st, const std::string& query) {
  st.alloc();
  st.prepare(query);
  st.define_and_bind();
}

}  // namespace

struct StoreStatements::GlobalInsert {
  std::string gid, trans_type, status, query_prepared, protocol, options, custom_data,
      owner;
  long long create = 0, update = 0, interval = 0, next = 0, retry_count = 0;
  soci::statement st;
  // MySQL has no "ON CONFLICT DO NOTHING" that leaves other errors alone (INSERT
  // IGNORE also swallows truncation), so there the gid is looked up first.
  std::unique_ptr<soci::statement> exists;
  int found = 0;

  GlobalInsert(soci::session& sql, Dialect dialect) : st(sql) {
    for (auto* v : {&gid, &trans_type, &status, &query_prepared, &protocol}) {
      st.exchange(soci::use(*v));
    }
    st.exchange(soci::use(create));
    st.exchange(soci::use(update));
    st.exchange(soci::use(options));
    st.exchange(soci::use(custom_data));
    st.exchange(soci::use(interval));
    st.exchange(soci::use(next));
    st.exchange(soci::use(owner));
    st.exchange(soci::use(retry_count));
    Prepare(st, absl::StrCat(
                    "INSERT INTO trans_global (gid, trans_type, status, query_prepared, "
                    "protocol, create_time, update_time, options, custom_data, "
                    "next_cron_interval, next_cron_time, owner, result, rollback_reason, "
                    "retry_count) VALUES (:gid, :trans_type, :status, :query_prepared, "
                    ":protocol, :create_time, :update_time, :options, :custom_data, "
                    ":interval, :next, :owner, '', '', :retry_count)",
                    dialect == Dialect::kMysql ? "" : " ON CONFLICT (gid) DO NOTHING"));
    if (dialect == Dialect::kMysql) {
      exists = std::make_unique<soci::statement>(sql);
      exists->exchange(soci::into(found));
      exists->exchange(soci::use(gid));
      Prepare(*exists, "SELECT COUNT(*) FROM trans_global WHERE gid = :gid");
    }
  }
};

struct StoreStatements::GlobalCas {
  long long now = 0;
  Nullable<std::string> status, owner, rollback_reason, result;
  Nullable<long long> next_cron_time, next_cron_interval, finish_time, rollback_time,
      retry_count;
  std::string gid, expected_status, expected_owner;
  soci::statement st;

  explicit GlobalCas(soci::session& sql) : st(sql) {
    st.exchange(soci::use(now));
    st.exchange(soci::use(status.value, status.ind));
    st.exchange(soci::use(owner.value, owner.ind));
    st.exchange(soci::use(next_cron_time.value, next_cron_time.ind));
    st.exchange(soci::use(next_cron_interval.value, next_cron_interval.ind));
    st.exchange(soci::use(rollback_reason.value, rollback_reason.ind));
    st.exchange(soci::use(finish_time.value, finish_time.ind));
    st.exchange(soci::use(rollback_time.value, rollback_time.ind));
    st.exchange(soci::use(result.value, result.ind));
    st.exchange(soci::use(retry_count.value, retry_count.ind));
    st.exchange(soci::use(gid));
    st.exchange(soci::use(expected_status));
    st.exchange(soci::use(expected_owner));
    Prepare(st,
            "UPDATE trans_global SET update_time = :now, "
            "status = COALESCE(:status, status), owner = COALESCE(:owner, owner), "
            "next_cron_time = COALESCE(:next_cron_time, next_cron_time), "
            "next_cron_interval = COALESCE(:interval, next_cron_interval), "
            "rollback_reason = COALESCE(:rollback_reason, rollback_reason), "
            "finish_time = COALESCE(:finish_time, finish_time), "
            "rollback_time = COALESCE(:rollback_time, rollback_time), "
            "result = COALESCE(:result, result), "
            "retry_count = COALESCE(:retry_count, retry_count) "
            "WHERE gid = :gid AND status = :expected_status AND owner = :expected_owner");
  }
};

struct StoreStatements::BranchRows {
  // Sized once: the statement holds the addresses of the elements.
  std::string gid;
  std::vector<std::string> url, bin, branch_id, op, status;
  std::vector<long long> create;
  soci::statement st;

  BranchRows(soci::session& sql, Dialect dialect, size_t n)
      : url(n), bin(n), branch_id(n), op(n), status(n), create(n), st(sql) {
    // PostgreSQL's bytea takes the payload's bytes as hex text.
    const bool hex = dialect == Dialect::kPostgres;
    std::string query =
        "INSERT INTO trans_branch_op (gid, url, bin_data, branch_id, op, status, "
        "create_time, update_time) VALUES ";
    for (size_t i = 0; i < n; ++i) {
      // SQLite wants every name once, so each row has its own.
      const std::string k = std::to_string(i);
      absl::StrAppend(&query, i == 0 ? "" : ", ", "(:g", k, ", :u", k, ", ",
                      hex ? "decode(:b" + k + ", 'hex')" : ":b" + k, ", :i", k, ", :o",
                      k, ", :s", k, ", :c", k, ", :t", k, ")");
      st.exchange(soci::use(gid));
      st.exchange(soci::use(url[i]));
      st.exchange(soci::use(bin[i]));
      st.exchange(soci::use(branch_id[i]));
      st.exchange(soci::use(op[i]));
      st.exchange(soci::use(status[i]));
      st.exchange(soci::use(create[i]));
      st.exchange(soci::use(create[i]));
    }
    Prepare(st, query);
  }
};

struct StoreStatements::BranchResult {
  std::string status, gid, branch_id, op;
  long long now = 0;
  soci::statement st;

  explicit BranchResult(soci::session& sql) : st(sql) {
    st.exchange(soci::use(status));
    st.exchange(soci::use(now));
    st.exchange(soci::use(now));
    st.exchange(soci::use(gid));
    st.exchange(soci::use(branch_id));
    st.exchange(soci::use(op));
    Prepare(st,
            "UPDATE trans_branch_op SET status = :status, update_time = :now, "
            "finish_time = :finish WHERE gid = :gid AND branch_id = :branch_id AND op = "
            ":op AND status = 'prepared'");
  }
};

StoreStatements::StoreStatements(soci::session& sql, Dialect dialect)
    : sql_(sql), dialect_(dialect) {}

StoreStatements::~StoreStatements() = default;

bool StoreStatements::InsertGlobal(const TransGlobal& g) {
  if (!insert_global_) insert_global_ = std::make_unique<GlobalInsert>(sql_, dialect_);
  GlobalInsert& s = *insert_global_;
  s.gid = g.gid;
  if (s.exists) {
    s.exists->execute(true);
    if (s.found > 0) return false;
  }
  s.trans_type = g.trans_type;
  s.status = g.status;
  s.query_prepared = g.query_prepared;
  s.protocol = g.protocol;
  s.create = ToMillis(g.create_time);
  s.update = ToMillis(g.update_time);
  s.options = OptionsToJson(g.options);
  s.custom_data = g.custom_data;
  s.interval = absl::ToInt64Milliseconds(g.next_cron_interval);
  s.next = ToMillis(g.next_cron_time);
  s.owner = g.owner;
  s.retry_count = g.retry_count;
  s.st.execute(true);
  return s.st.get_affected_rows() == 1;
}

void StoreStatements::InsertBranches(const std::string& gid,
                                     const std::vector<TransBranch>& branches) {
  const bool hex = dialect_ == Dialect::kPostgres;
  for (size_t first = 0; first < branches.size(); first += kRowsPerInsert) {
    const size_t n = std::min(kRowsPerInsert, branches.size() - first);
    std::unique_ptr<BranchRows>& rows = insert_branches_[n];
    if (!rows) rows = std::make_unique<BranchRows>(sql_, dialect_, n);
    rows->gid = gid;
    for (size_t i = 0; i < n; ++i) {
      const TransBranch& b = branches[first + i];
      rows->url[i] = b.url;
      rows->bin[i] = hex ? absl::BytesToHexString(b.bin_data) : b.bin_data;
      rows->branch_id[i] = b.branch_id;
      rows->op[i] = b.op;
      rows->status[i] = b.status;
      rows->create[i] = ToMillis(b.create_time);
    }
    rows->st.execute(true);
  }
}

bool StoreStatements::UpdateGlobal(const std::string& gid,
                                   const std::string& expected_status,
                                   const std::string& expected_owner,
                                   const GlobalUpdate& u, long long now_ms) {
  if (!update_global_) update_global_ = std::make_unique<GlobalCas>(sql_);
  GlobalCas& s = *update_global_;
  auto same = [](const std::string& v) { return v; };
  auto millis = [](absl::Time t) { return ToMillis(t); };
  s.now = now_ms;
  s.status.Set(u.status, same);
  s.owner.Set(u.owner, same);
  s.rollback_reason.Set(u.rollback_reason, Clip);
  s.result.Set(u.result, Clip);
  s.next_cron_time.Set(u.next_cron_time, millis);
  s.next_cron_interval.Set(u.next_cron_interval, [](absl::Duration d) {
    return static_cast<long long>(absl::ToInt64Milliseconds(d));
  });
  s.finish_time.Set(u.finish_time, millis);
  s.rollback_time.Set(u.rollback_time, millis);
  s.retry_count.Set(u.retry_count, [](int64_t n) { return static_cast<long long>(n); });
  s.gid = gid;
  s.expected_status = expected_status;
  s.expected_owner = expected_owner;
  s.st.execute(true);
  return s.st.get_affected_rows() == 1;
}

void StoreStatements::UpdateBranch(const std::string& gid, const BranchUpdate& b,
                                   long long now_ms) {
  if (!update_branch_) update_branch_ = std::make_unique<BranchResult>(sql_);
  BranchResult& s = *update_branch_;
  s.status = b.status;
  s.now = now_ms;
  s.gid = gid;
  s.branch_id = b.branch_id;
  s.op = b.op;
  s.st.execute(true);
}

}  // namespace dtx::internal
