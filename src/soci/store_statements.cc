#include "soci/store_statements.h"

#include <atomic>
#include <type_traits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "internal/options_json.h"
#include "internal/text_rules.h"

namespace dtx::internal {
namespace {

constexpr size_t kMaxTextColumn = 1024;  // DTM's varchar(1024) columns

// Valid UTF-8 (PostgreSQL refuses anything else in a text column) of at most 1024
// bytes: a branch's answer quoted in `result` may be any bytes.
std::string Clip(const std::string& s) { return Excerpt(s, kMaxTextColumn); }

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

// The values of a pipelined statement (PgPipeline), in the order its query names
// them; nullopt is NULL.
using Params = std::vector<std::optional<std::string>>;

template <typename T>
void AddNullable(const Nullable<T>& v, Params* out) {
  if (v.ind != soci::i_ok) {
    out->push_back(std::nullopt);
  } else if constexpr (std::is_same_v<T, std::string>) {
    out->push_back(v.value);
  } else {
    out->push_back(std::to_string(v.value));
  }
}

// Prepares `query` on `st` once its use() elements are exchanged.
void Prepare(soci::statement& st, const std::string& query) {
  st.alloc();
  st.prepare(query);
  st.define_and_bind();
}

}  // namespace

// The values of a new global row, bound to a statement in the order of kColumns.
struct GlobalValues {
  static constexpr const char* kColumns =
      "gid, trans_type, status, query_prepared, protocol, create_time, update_time, "
      "options, custom_data, next_cron_interval, next_cron_time, owner, result, "
      "rollback_reason, retry_count";
  static constexpr const char* kValues =
      ":gid, :trans_type, :status, :query_prepared, :protocol, :create_time, "
      ":update_time, :options, :custom_data, :interval, :next, :owner, '', '', "
      ":retry_count";

  std::string gid, trans_type, status, query_prepared, protocol, options, custom_data,
      owner;
  long long create = 0, update = 0, interval = 0, next = 0, retry_count = 0;

  void Bind(soci::statement& st) {
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
  }
  // The same values as Bind, as text.
  void AppendTo(Params* out) const {
    for (const std::string* v :
         {&gid, &trans_type, &status, &query_prepared, &protocol}) {
      out->push_back(*v);
    }
    out->push_back(std::to_string(create));
    out->push_back(std::to_string(update));
    out->push_back(options);
    out->push_back(custom_data);
    out->push_back(std::to_string(interval));
    out->push_back(std::to_string(next));
    out->push_back(owner);
    out->push_back(std::to_string(retry_count));
  }
  void Set(const TransGlobal& g) {
    gid = g.gid;
    trans_type = g.trans_type;
    status = g.status;
    query_prepared = g.query_prepared;
    protocol = g.protocol;
    create = ToMillis(g.create_time);
    update = ToMillis(g.update_time);
    options = OptionsToJson(g.options);
    custom_data = g.custom_data;
    interval = absl::ToInt64Milliseconds(g.next_cron_interval);
    next = ToMillis(g.next_cron_time);
    owner = g.owner;
    retry_count = g.retry_count;
  }
};

// The values of up to n new branch rows of one gid. Each row has its own names
// (SQLite wants every name once).
struct BranchValues {
  // Sized once: a statement holds the addresses of the elements.
  explicit BranchValues(size_t n)
      : url(n), bin(n), branch_id(n), op(n), status(n), create(n) {}

  std::vector<std::string> url, bin, branch_id, op, status;
  std::vector<long long> create;

  // Binds row i as "url, bin_data, branch_id, op, status, create_time" (and
  // create_time again, as update_time, when `twice`).
  void Bind(soci::statement& st, size_t i, bool twice) {
    st.exchange(soci::use(url[i]));
    st.exchange(soci::use(bin[i]));
    st.exchange(soci::use(branch_id[i]));
    st.exchange(soci::use(op[i]));
    st.exchange(soci::use(status[i]));
    st.exchange(soci::use(create[i]));
    if (twice) st.exchange(soci::use(create[i]));
  }
  // Row i as Bind(st, i, /*twice=*/false) binds it, as text.
  void AppendTo(size_t i, Params* out) const {
    for (const std::string* v : {&url[i], &bin[i], &branch_id[i], &op[i], &status[i]}) {
      out->push_back(*v);
    }
    out->push_back(std::to_string(create[i]));
  }
  // PostgreSQL's bytea takes the payload's bytes as hex text.
  void Set(size_t i, const TransBranch& b, bool hex) {
    url[i] = b.url;
    bin[i] = hex ? absl::BytesToHexString(b.bin_data) : b.bin_data;
    branch_id[i] = b.branch_id;
    op[i] = b.op;
    status[i] = b.status;
    create[i] = ToMillis(b.create_time);
  }
};

// SQLite: the conflict clause of the statements that write several rows. With the
// default (ABORT), SQLite keeps a statement journal for each such statement inside a
// transaction, to undo the statement alone; it allocates 64 KiB for it and frees it at
// the statement's end, and glibc hands that back to the kernel each time (madvise, a
// TLB shootdown across cores): measured as a fifth of the writer thread's time. Here a
// failed statement fails its whole transaction anyway (a group is then rewritten write
// by write), so FAIL, which keeps no statement journal, loses nothing.
constexpr const char* kSqliteNoStatementJournal = "OR FAIL ";

// On MySQL a plain INSERT: a duplicate gid is an error there (INSERT IGNORE would also
// swallow truncation), which SociStore turns into kAlreadyExists.
struct StoreStatements::GlobalInsert {
  GlobalValues values;
  soci::statement st;

  GlobalInsert(soci::session& sql, Dialect dialect) : st(sql) {
    values.Bind(st);
    Prepare(st, Query(dialect));
  }
  static std::string Query(Dialect dialect) {
    return absl::StrCat(
        "INSERT INTO trans_global (", GlobalValues::kColumns, ") VALUES (",
        GlobalValues::kValues, ")",
        dialect == Dialect::kMysql ? "" : " ON CONFLICT (gid) DO NOTHING");
  }
};

// PostgreSQL: the global row and n branch rows in one statement (one round trip),
// with the values of GlobalValues, then of each row as BranchValues::AppendTo gives
// them. The branch rows go in only if the global row did: it affects n rows, or none
// when the gid exists.
std::string PgCreateQuery(size_t n) {
  std::string query = absl::StrCat(
      "WITH g AS (INSERT INTO trans_global (", GlobalValues::kColumns, ") VALUES (",
      GlobalValues::kValues,
      ") ON CONFLICT (gid) DO NOTHING RETURNING gid) "
      "INSERT INTO trans_branch_op (gid, url, bin_data, branch_id, op, status, "
      "create_time, update_time) SELECT g.gid, v.u, decode(v.b, 'hex'), v.i, v.o, "
      "v.s, v.c, v.c FROM g, (VALUES ");
  for (size_t i = 0; i < n; ++i) {
    const std::string k = std::to_string(i);
    absl::StrAppend(&query, i == 0 ? "" : ", ", "(:u", k, ", :b", k, ", :i", k, ", :o", k,
                    ", :s", k, ", CAST(:c", k, " AS BIGINT))");
  }
  absl::StrAppend(&query, ") AS v(u, b, i, o, s, c)");
  return query;
}

// The values of a compare-and-set of a global row, bound in the order of kSet, then
// kWhere.
struct CasValues {
  static constexpr const char* kSet =
      "update_time = :now, status = COALESCE(:status, status), "
      "owner = COALESCE(:owner, owner), "
      "next_cron_time = COALESCE(:next_cron_time, next_cron_time), "
      "next_cron_interval = COALESCE(:interval, next_cron_interval), "
      "rollback_reason = COALESCE(:rollback_reason, rollback_reason), "
      "finish_time = COALESCE(:finish_time, finish_time), "
      "rollback_time = COALESCE(:rollback_time, rollback_time), "
      "result = COALESCE(:result, result), "
      "retry_count = COALESCE(:retry_count, retry_count)";
  static constexpr const char* kWhere =
      "gid = :gid AND status = :expected_status AND owner = :expected_owner";

  long long now = 0;
  Nullable<std::string> status, owner, rollback_reason, result;
  Nullable<long long> next_cron_time, next_cron_interval, finish_time, rollback_time,
      retry_count;
  std::string gid, expected_status, expected_owner;

  void Bind(soci::statement& st) {
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
  }
  // The same values as Bind, as text.
  void AppendTo(Params* out) const {
    out->push_back(std::to_string(now));
    AddNullable(status, out);
    AddNullable(owner, out);
    AddNullable(next_cron_time, out);
    AddNullable(next_cron_interval, out);
    AddNullable(rollback_reason, out);
    AddNullable(finish_time, out);
    AddNullable(rollback_time, out);
    AddNullable(result, out);
    AddNullable(retry_count, out);
    out->push_back(gid);
    out->push_back(expected_status);
    out->push_back(expected_owner);
  }
  void Set(const std::string& gid_, const std::string& expected_status_,
           const std::string& expected_owner_, const GlobalUpdate& u, long long now_ms) {
    auto same = [](const std::string& v) { return v; };
    auto millis = [](absl::Time t) { return ToMillis(t); };
    now = now_ms;
    status.Set(u.status, same);
    owner.Set(u.owner, same);
    rollback_reason.Set(u.rollback_reason, Clip);
    result.Set(u.result, Clip);
    next_cron_time.Set(u.next_cron_time, millis);
    next_cron_interval.Set(u.next_cron_interval, [](absl::Duration d) {
      return static_cast<long long>(absl::ToInt64Milliseconds(d));
    });
    finish_time.Set(u.finish_time, millis);
    rollback_time.Set(u.rollback_time, millis);
    retry_count.Set(u.retry_count, [](int64_t n) { return static_cast<long long>(n); });
    gid = gid_;
    expected_status = expected_status_;
    expected_owner = expected_owner_;
  }
};

struct StoreStatements::GlobalCas {
  CasValues values;
  soci::statement st;

  explicit GlobalCas(soci::session& sql) : st(sql) {
    values.Bind(st);
    Prepare(st, Query());
  }
  static std::string Query() {
    return absl::StrCat("UPDATE trans_global SET ", CasValues::kSet, " WHERE ",
                        CasValues::kWhere);
  }
};

// The results of up to n branches of one gid: (branch_id, op) and the new status.
struct ResultValues {
  // Sized once: a statement holds the addresses of the elements.
  explicit ResultValues(size_t n) : branch_id(n), op(n), status(n) {}

  std::vector<std::string> branch_id, op, status;

  // Rows i = 0.. take branches[from + i].
  void Set(const std::vector<BranchUpdate>& branches, size_t from, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      branch_id[i] = branches[from + i].branch_id;
      op[i] = branches[from + i].op;
      status[i] = branches[from + i].status;
    }
  }
};

// PostgreSQL: the compare-and-set of a global row and n branch results in one
// statement, with the values of CasValues, the time twice, each result (branch_id, op,
// status), then the gid again. The branches move only if the global row matched; the
// statement answers how many global rows did (1 or 0).
std::string PgUpdateQuery(size_t n) {
  std::string query = absl::StrCat(
      "WITH g AS (UPDATE trans_global SET ", CasValues::kSet, " WHERE ",
      CasValues::kWhere,
      " RETURNING id), b AS (UPDATE trans_branch_op t SET status = v.s, update_time = "
      "CAST(:now2 AS BIGINT), finish_time = CAST(:now3 AS BIGINT) FROM (VALUES ");
  for (size_t i = 0; i < n; ++i) {
    const std::string k = std::to_string(i);
    absl::StrAppend(&query, i == 0 ? "" : ", ", "(:i", k, ", :o", k, ", :s", k, ")");
  }
  absl::StrAppend(&query,
                  ") AS v(i, o, s) WHERE t.gid = :gid2 AND t.branch_id = v.i AND "
                  "t.op = v.o AND t.status = 'prepared' AND EXISTS (SELECT 1 FROM g) "
                  "RETURNING t.id) SELECT COUNT(*) FROM g");
  return query;
}

struct StoreStatements::BranchRows {
  std::string gid;
  BranchValues rows;
  soci::statement st;

  BranchRows(soci::session& sql, Dialect dialect, size_t n) : rows(n), st(sql) {
    const bool hex = dialect == Dialect::kPostgres;
    std::string query = absl::StrCat(
        "INSERT ", dialect == Dialect::kSqlite ? kSqliteNoStatementJournal : "",
        "INTO trans_branch_op (gid, url, bin_data, branch_id, op, status, create_time, "
        "update_time) VALUES ");
    for (size_t i = 0; i < n; ++i) {
      const std::string k = std::to_string(i);
      absl::StrAppend(&query, i == 0 ? "" : ", ", "(:g", k, ", :u", k, ", ",
                      hex ? "decode(:b" + k + ", 'hex')" : ":b" + k, ", :i", k, ", :o", k,
                      ", :s", k, ", :c", k, ", :t", k, ")");
      st.exchange(soci::use(gid));
      rows.Bind(st, i, /*twice=*/true);
    }
    Prepare(st, query);
  }
};

// The results of n branches of one gid in one statement: each moves from 'prepared'
// to its own status.
struct StoreStatements::BranchResults {
  std::string gid;
  ResultValues results;
  long long now = 0;
  soci::statement st;

  BranchResults(soci::session& sql, Dialect dialect, size_t n) : results(n), st(sql) {
    std::string query = absl::StrCat(
        "UPDATE ", dialect == Dialect::kSqlite ? kSqliteNoStatementJournal : "",
        "trans_branch_op SET status = CASE");
    for (size_t i = 0; i < n; ++i) {
      const std::string k = std::to_string(i);
      absl::StrAppend(&query, " WHEN branch_id = :a", k, " AND op = :p", k, " THEN :s",
                      k);
      st.exchange(soci::use(results.branch_id[i]));
      st.exchange(soci::use(results.op[i]));
      st.exchange(soci::use(results.status[i]));
    }
    absl::StrAppend(&query,
                    " ELSE status END, update_time = :now, finish_time = :finish WHERE "
                    "gid = :gid AND status = 'prepared' AND (");
    st.exchange(soci::use(now));
    st.exchange(soci::use(now));
    st.exchange(soci::use(gid));
    for (size_t i = 0; i < n; ++i) {
      const std::string k = std::to_string(i);
      absl::StrAppend(&query, i == 0 ? "" : " OR ", "(branch_id = :b", k, " AND op = :q",
                      k, ")");
      st.exchange(soci::use(results.branch_id[i]));
      st.exchange(soci::use(results.op[i]));
    }
    absl::StrAppend(&query, ")");
    Prepare(st, query);
  }
};

StoreStatements::StoreStatements(soci::session& sql, Dialect dialect)
    : sql_(sql), dialect_(dialect) {}

StoreStatements::~StoreStatements() = default;

bool StoreStatements::IsOneStatement(Dialect dialect, size_t rows) {
  return dialect == Dialect::kPostgres && rows <= kRowsPerInsert;
}

bool StoreStatements::Create(const TransGlobal& g,
                             const std::vector<TransBranch>& branches) {
  if (!InsertGlobal(g)) return false;
  InsertBranches(g.gid, branches);
  return true;
}

bool StoreStatements::InsertGlobal(const TransGlobal& g) {
  if (!insert_global_) insert_global_ = std::make_unique<GlobalInsert>(sql_, dialect_);
  GlobalInsert& s = *insert_global_;
  s.values.Set(g);
  s.st.execute(true);
  return s.st.get_affected_rows() == 1;
}

std::optional<std::string> StoreStatements::AddBranches(
    const std::string& gid, const std::string& expected_status,
    const std::vector<TransBranch>& branches, size_t max_rows, long long now_ms,
    bool* too_many) {
  *too_many = false;
  // Not a hot path (one call per registered TCC branch): statements made per call.
  // The rows of `branches` the transaction lacks, and how many it has.
  auto missing_rows = [&](size_t* have_rows) {
    std::string branch_id, op;
    soci::statement have = (sql_.prepare << "SELECT branch_id, op FROM trans_branch_op "
                                            "WHERE gid = :gid",
                            soci::use(gid), soci::into(branch_id), soci::into(op));
    have.execute();
    std::vector<std::pair<std::string, std::string>> known;
    while (have.fetch()) known.emplace_back(branch_id, op);
    std::vector<TransBranch> missing;
    for (const TransBranch& b : branches) {
      if (std::find(known.begin(), known.end(), std::pair(b.branch_id, b.op)) ==
          known.end()) {
        missing.push_back(b);
        missing.back().create_time = missing.back().update_time = FromMillis(now_ms);
      }
    }
    *have_rows = known.size();
    return missing;
  };
  // Over the limit: refused before anything is written (a group commit's op must not
  // write and then fail).
  size_t have_rows = 0;
  const size_t adding = missing_rows(&have_rows).size();
  if (have_rows + adding > max_rows) {
    *too_many = true;
    return expected_status;
  }
  // The update locks the global row against a status change and against another
  // registration of this gid; the rows are read again under it.
  soci::statement touch = (sql_.prepare << "UPDATE trans_global SET update_time = :now "
                                           "WHERE gid = :gid AND status = :status",
                           soci::use(now_ms), soci::use(gid), soci::use(expected_status));
  touch.execute(true);
  if (touch.get_affected_rows() != 1) {
    std::string status;
    soci::indicator ind = soci::i_null;
    sql_ << "SELECT status FROM trans_global WHERE gid = :gid", soci::use(gid),
        soci::into(status, ind);
    if (!sql_.got_data()) return std::nullopt;
    return status;
  }
  InsertBranches(gid, missing_rows(&have_rows));
  return expected_status;
}

void StoreStatements::InsertBranches(const std::string& gid,
                                     const std::vector<TransBranch>& branches) {
  const bool hex = dialect_ == Dialect::kPostgres;
  for (size_t first = 0; first < branches.size(); first += kRowsPerInsert) {
    const size_t n = std::min(kRowsPerInsert, branches.size() - first);
    std::unique_ptr<BranchRows>& rows = insert_branches_[n];
    if (!rows) rows = std::make_unique<BranchRows>(sql_, dialect_, n);
    rows->gid = gid;
    for (size_t i = 0; i < n; ++i) rows->rows.Set(i, branches[first + i], hex);
    rows->st.execute(true);
  }
}

bool StoreStatements::Update(const std::string& gid, const std::string& expected_status,
                             const std::string& expected_owner,
                             const std::vector<BranchUpdate>& branches,
                             const GlobalUpdate& u, long long now_ms) {
  if (!UpdateGlobal(gid, expected_status, expected_owner, u, now_ms)) return false;
  UpdateBranches(gid, branches, now_ms);
  return true;
}

bool StoreStatements::UpdateGlobal(const std::string& gid,
                                   const std::string& expected_status,
                                   const std::string& expected_owner,
                                   const GlobalUpdate& u, long long now_ms) {
  if (!update_global_) update_global_ = std::make_unique<GlobalCas>(sql_);
  GlobalCas& s = *update_global_;
  s.values.Set(gid, expected_status, expected_owner, u, now_ms);
  s.st.execute(true);
  return s.st.get_affected_rows() == 1;
}

void StoreStatements::UpdateBranches(const std::string& gid,
                                     const std::vector<BranchUpdate>& branches,
                                     long long now_ms) {
  for (size_t first = 0; first < branches.size(); first += kRowsPerInsert) {
    const size_t n = std::min(kRowsPerInsert, branches.size() - first);
    std::unique_ptr<BranchResults>& s = update_branches_[n];
    if (!s) s = std::make_unique<BranchResults>(sql_, dialect_, n);
    s->gid = gid;
    s->now = now_ms;
    s->results.Set(branches, first, n);
    s->st.execute(true);
  }
}

const std::string& StoreStatements::Piped(PgPipeline& pipe, int kind, size_t rows,
                                          absl::FunctionRef<std::string()> query) {
  static std::atomic<long> objects{0};
  std::string& name = piped_[kind][rows];
  if (name.empty()) {
    const std::string candidate = absl::StrCat("dtx_", kind == 0 ? "create_" : "update_",
                                               rows, "_", objects.fetch_add(1));
    pipe.Prepare(candidate, query());
    name = candidate;
  }
  return name;
}

void StoreStatements::SendCreate(PgPipeline& pipe, const TransGlobal& g,
                                 const std::vector<TransBranch>& branches) {
  const size_t n = branches.size();
  const std::string& name = Piped(pipe, 0, n, [&] {
    return n == 0 ? GlobalInsert::Query(Dialect::kPostgres) : PgCreateQuery(n);
  });
  GlobalValues global;
  global.Set(g);
  Params params;
  global.AppendTo(&params);
  BranchValues rows(n);
  for (size_t i = 0; i < n; ++i) {
    rows.Set(i, branches[i], /*hex=*/true);
    rows.AppendTo(i, &params);
  }
  pipe.Send(name, params);
}

std::optional<bool> StoreStatements::ReadCreate(PgPipeline& pipe, size_t rows,
                                                std::string* error) {
  const std::optional<long long> affected = pipe.Next(error);
  if (!affected) return std::nullopt;
  // The global row alone, or with all its branch rows; none when the gid exists.
  return *affected == static_cast<long long>(rows == 0 ? 1 : rows);
}

void StoreStatements::SendUpdate(PgPipeline& pipe, const std::string& gid,
                                 const std::string& expected_status,
                                 const std::string& expected_owner,
                                 const std::vector<BranchUpdate>& branches,
                                 const GlobalUpdate& u, long long now_ms) {
  const size_t n = branches.size();
  const std::string& name =
      Piped(pipe, 1, n, [&] { return n == 0 ? GlobalCas::Query() : PgUpdateQuery(n); });
  CasValues global;
  global.Set(gid, expected_status, expected_owner, u, now_ms);
  Params params;
  global.AppendTo(&params);
  if (n > 0) {
    params.push_back(std::to_string(now_ms));
    params.push_back(std::to_string(now_ms));
    ResultValues results(n);
    results.Set(branches, 0, n);
    for (size_t i = 0; i < n; ++i) {
      params.push_back(results.branch_id[i]);
      params.push_back(results.op[i]);
      params.push_back(results.status[i]);
    }
    params.push_back(gid);
  }
  pipe.Send(name, params);
}

std::optional<bool> StoreStatements::ReadUpdate(PgPipeline& pipe, std::string* error) {
  // Rows affected by the compare-and-set alone, or how many global rows it matched.
  const std::optional<long long> matched = pipe.Next(error);
  if (!matched) return std::nullopt;
  return *matched == 1;
}

}  // namespace dtx::internal
