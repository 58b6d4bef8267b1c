#include "soci/store_statements.h"

#include <algorithm>
#include <atomic>
#include <type_traits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "internal/options_json.h"
#include "internal/text_rules.h"
#include "soci/trans_row.h"

namespace dtx::internal {

// Binary on every backend (store_statements.h): on PostgreSQL and MySQL it travels as hex
// text (SOCI sends strings as text, and MySQL would check a string literal as utf8mb4);
// on SQLite a bound string is TEXT until cast, and a BLOB keeps its NUL bytes for every
// tool that reads the file.
std::string BranchesIn(Dialect dialect) {
  switch (dialect) {
    case Dialect::kPostgres:
      return "decode(:branches, 'hex')";
    case Dialect::kMysql:
      return "UNHEX(:branches)";
    case Dialect::kSqlite:
      break;
  }
  return "CAST(:branches AS BLOB)";
}
std::string BranchesOut(Dialect dialect) {
  switch (dialect) {
    case Dialect::kPostgres:
      return "encode(branches, 'hex')";
    case Dialect::kMysql:
      return "HEX(branches)";
    case Dialect::kSqlite:
      break;
  }
  return "branches";
}
bool Hex(Dialect dialect) { return dialect != Dialect::kSqlite; }
std::string BranchesValue(Dialect dialect, std::string bytes) {
  return Hex(dialect) ? absl::BytesToHexString(bytes) : bytes;
}
std::string BranchesBytes(Dialect dialect, std::string value) {
  return Hex(dialect) ? absl::HexStringToBytes(value) : value;
}

namespace {

constexpr size_t kMaxTextColumn = 1024;  // DTM's varchar(1024) columns

// The transactions the cron drives (prepared, submitted, aborting), spelled as the
// partial index dtx_trans_pending is (see sql/postgresql/store.sql for why).
constexpr const char* kUnfinished = "status NOT IN ('succeed', 'failed')";

// Valid UTF-8 (PostgreSQL refuses anything else in a text column) of at most 1024
// bytes: a branch's answer quoted in `result` may be any bytes.
std::string Clip(const std::string& s) { return Excerpt(s, kMaxTextColumn); }

std::string AppendToLog(Dialect dialect) {
  return dialect == Dialect::kMysql ? "branch_log = CONCAT(branch_log, :log)"
                                    : "branch_log = branch_log || :log";
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

// Prepares `query` on `st` once its use() and into() elements are exchanged.
void Prepare(soci::statement& st, const std::string& query) {
  st.alloc();
  st.prepare(query);
  st.define_and_bind();
}

// A nullable BIGINT time column.
struct TimeColumn {
  long long ms = 0;
  soci::indicator ind = soci::i_null;

  absl::Time Get() const {
    return ind == soci::i_ok ? FromMillis(ms) : absl::InfinitePast();
  }
};

// The columns of a row but its branches, as SELECT gives them.
struct GlobalRow {
  static constexpr const char* kColumns =
      "gid, id, trans_type, status, query_prepared, protocol, create_time, "
      "update_time, finish_time, rollback_time, options, custom_data, "
      "next_cron_interval, next_cron_time, owner, result, rollback_reason, retry_count";

  long long id = 0;
  std::string gid, trans_type, status, query_prepared, protocol, options, custom_data,
      owner, result, rollback_reason;
  long long create_time = 0, update_time = 0, next_cron_interval = 0, next_cron_time = 0,
            retry_count = 0;
  TimeColumn finish_time, rollback_time;

  void Bind(soci::statement& st) {
    st.exchange(soci::into(gid));
    st.exchange(soci::into(id));
    st.exchange(soci::into(trans_type));
    st.exchange(soci::into(status));
    st.exchange(soci::into(query_prepared));
    st.exchange(soci::into(protocol));
    st.exchange(soci::into(create_time));
    st.exchange(soci::into(update_time));
    st.exchange(soci::into(finish_time.ms, finish_time.ind));
    st.exchange(soci::into(rollback_time.ms, rollback_time.ind));
    st.exchange(soci::into(options));
    st.exchange(soci::into(custom_data));
    st.exchange(soci::into(next_cron_interval));
    st.exchange(soci::into(next_cron_time));
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
    g.create_time = FromMillis(create_time);
    g.update_time = FromMillis(update_time);
    g.finish_time = finish_time.Get();
    g.rollback_time = rollback_time.Get();
    absl::StatusOr<TransOptions> parsed = OptionsFromJson(options);
    if (!parsed.ok()) {
      return absl::InternalError(
          absl::StrCat("transaction ", gid, ": ", parsed.status().message()));
    }
    g.options = *std::move(parsed);
    g.custom_data = custom_data;
    g.next_cron_interval = absl::Milliseconds(next_cron_interval);
    g.next_cron_time = FromMillis(next_cron_time);
    g.owner = owner;
    g.result = result;
    g.rollback_reason = rollback_reason;
    g.retry_count = retry_count;
    return g;
  }
};

// "SELECT <columns> FROM dtx_trans <rest>" with the values `bind` adds, every row
// appended to `out`.
template <typename BindFn>
absl::Status SelectGlobals(soci::session& sql, const std::string& rest, BindFn bind,
                           std::vector<TransGlobal>* out) {
  GlobalRow row;
  soci::statement st(sql);
  row.Bind(st);
  bind(st);
  Prepare(st, absl::StrCat("SELECT ", GlobalRow::kColumns, " FROM dtx_trans ", rest));
  st.execute();
  while (st.fetch()) {
    absl::StatusOr<TransGlobal> g = row.Get();
    if (!g.ok()) return g.status();
    out->push_back(*std::move(g));
  }
  return absl::OkStatus();
}

}  // namespace

// The values of a new row, bound in the order of kColumns.
struct InsertValues {
  static constexpr const char* kColumns =
      "gid, id, trans_type, status, query_prepared, protocol, create_time, "
      "update_time, options, custom_data, next_cron_interval, next_cron_time, owner, "
      "result, rollback_reason, retry_count, branches, branch_log";

  std::string gid, trans_type, status, query_prepared, protocol, options, custom_data,
      owner, branches;
  long long id = 0, create = 0, update = 0, interval = 0, next = 0, retry_count = 0;

  void Bind(soci::statement& st) {
    st.exchange(soci::use(gid));
    st.exchange(soci::use(id));
    for (auto* v : {&trans_type, &status, &query_prepared, &protocol}) {
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
    st.exchange(soci::use(branches));
  }
  // On MySQL a plain INSERT: a duplicate gid is an error there (INSERT IGNORE would
  // also swallow truncation), which SociStore turns into kAlreadyExists.
  static std::string Query(Dialect dialect) {
    return absl::StrCat(
        "INSERT INTO dtx_trans (", kColumns,
        ") VALUES (:gid, :id, :trans_type, :status, :query_prepared, :protocol, "
        ":create_time, :update_time, :options, :custom_data, :interval, :next, :owner, "
        "'', '', :retry_count, ",
        BranchesIn(dialect), ", '')",
        dialect == Dialect::kMysql ? "" : " ON CONFLICT (gid) DO NOTHING");
  }
  void Set(Dialect dialect, const TransGlobal& g, const std::vector<TransBranch>& rows) {
    gid = g.gid;
    create = ToMillis(g.create_time);
    id = NewRowId(create);
    trans_type = g.trans_type;
    status = g.status;
    query_prepared = g.query_prepared;
    protocol = g.protocol;
    update = ToMillis(g.update_time);
    options = OptionsToJson(g.options);
    custom_data = g.custom_data;
    interval = absl::ToInt64Milliseconds(g.next_cron_interval);
    next = ToMillis(g.next_cron_time);
    owner = g.owner;
    retry_count = g.retry_count;
    branches = BranchesValue(dialect, EncodeBranches(rows, create, /*first=*/true));
  }
  // The same values as the statement binds, as text.
  void AppendTo(Params* out) const {
    out->push_back(gid);
    out->push_back(std::to_string(id));
    for (const std::string* v : {&trans_type, &status, &query_prepared, &protocol}) {
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
    out->push_back(branches);
  }
};

// The compare-and-set of a row with its branch results, bound in the order of the
// query's names.
struct CasValues {
  long long now = 0;
  Nullable<std::string> status, owner, rollback_reason, result;
  Nullable<long long> next_cron_time, next_cron_interval, finish_time, rollback_time,
      retry_count;
  std::string log, gid, expected_status, expected_owner;

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
    st.exchange(soci::use(log));
    st.exchange(soci::use(gid));
    st.exchange(soci::use(expected_status));
    st.exchange(soci::use(expected_owner));
  }
  static std::string Query(Dialect dialect) {
    return absl::StrCat(
        "UPDATE dtx_trans SET update_time = :now, status = COALESCE(:status, status), "
        "owner = COALESCE(:owner, owner), "
        "next_cron_time = COALESCE(:next_cron_time, next_cron_time), "
        "next_cron_interval = COALESCE(:interval, next_cron_interval), "
        "rollback_reason = COALESCE(:rollback_reason, rollback_reason), "
        "finish_time = COALESCE(:finish_time, finish_time), "
        "rollback_time = COALESCE(:rollback_time, rollback_time), "
        "result = COALESCE(:result, result), "
        "retry_count = COALESCE(:retry_count, retry_count), ",
        AppendToLog(dialect),
        " WHERE gid = :gid AND status = :expected_status AND owner = :expected_owner");
  }
  void Set(const std::string& gid_, const std::string& expected_status_,
           const std::string& expected_owner_, const std::vector<BranchUpdate>& branches,
           const GlobalUpdate& u, long long now_ms) {
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
    log = LogEntry(branches, now_ms);
    gid = gid_;
    expected_status = expected_status_;
    expected_owner = expected_owner_;
  }
  // The same values as the statement binds, as text.
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
    out->push_back(log);
    out->push_back(gid);
    out->push_back(expected_status);
    out->push_back(expected_owner);
  }
};

// A write prepared on a connection, with the values it is bound to.
template <typename Values>
struct Prepared {
  Values values;
  soci::statement st;

  Prepared(soci::session& sql, Dialect dialect) : st(sql) {
    values.Bind(st);
    Prepare(st, Values::Query(dialect));
  }
};
struct StoreStatements::Insert : Prepared<InsertValues> {
  using Prepared::Prepared;
};
struct StoreStatements::Cas : Prepared<CasValues> {
  using Prepared::Prepared;
};

StoreStatements::StoreStatements(soci::session& sql, Dialect dialect)
    : sql_(sql), dialect_(dialect) {}

StoreStatements::~StoreStatements() = default;

bool StoreStatements::Create(const TransGlobal& g,
                             const std::vector<TransBranch>& branches) {
  if (!insert_) insert_ = std::make_unique<Insert>(sql_, dialect_);
  insert_->values.Set(dialect_, g, branches);
  insert_->st.execute(true);
  return insert_->st.get_affected_rows() == 1;
}

bool StoreStatements::Update(const std::string& gid, const std::string& expected_status,
                             const std::string& expected_owner,
                             const std::vector<BranchUpdate>& branches,
                             const GlobalUpdate& u, long long now_ms) {
  if (!cas_) cas_ = std::make_unique<Cas>(sql_, dialect_);
  cas_->values.Set(gid, expected_status, expected_owner, branches, u, now_ms);
  cas_->st.execute(true);
  return cas_->st.get_affected_rows() == 1;
}

std::optional<StoreStatements::BranchColumns> StoreStatements::ReadBranches(
    const std::string& gid) {
  BranchColumns c;
  std::string column;
  sql_ << "SELECT status, create_time, " << BranchesOut(dialect_)
       << ", branch_log FROM dtx_trans WHERE gid = :gid",
      soci::use(gid), soci::into(c.status), soci::into(c.create_ms), soci::into(column),
      soci::into(c.log);
  if (!sql_.got_data()) return std::nullopt;
  c.bytes = BranchesBytes(dialect_, column);
  return c;
}

absl::StatusOr<std::optional<std::string>> StoreStatements::AddBranches(
    const std::string& gid, const std::string& expected_status,
    const std::vector<TransBranch>& branches, size_t max_rows, long long now_ms,
    bool* too_many) {
  *too_many = false;
  // Not a hot path (one call per registered TCC branch): statements made per call.
  // Read, then a compare-and-set that writes only if nobody appended meanwhile (the
  // column only grows, so its length tells), again after losing one. Nothing is
  // written before the checks: a group commit's op must not write and then fail.
  const std::string bytes_of_column = dialect_ == Dialect::kSqlite
                                          ? "length(CAST(branches AS BLOB))"
                                          : "length(branches)";
  for (int attempt = 0; attempt < 8; ++attempt) {
    const std::optional<BranchColumns> row = ReadBranches(gid);
    if (!row) return std::optional<std::string>();
    const std::string& status = row->status;
    if (status != expected_status) return std::optional<std::string>(status);
    const std::string& have_bytes = row->bytes;
    const long long create_ms = row->create_ms;
    absl::StatusOr<std::vector<TransBranch>> have =
        DecodeBranches(gid, have_bytes, row->log, create_ms);
    if (!have.ok()) return have.status();  // kInternal: no retry mends it
    std::vector<TransBranch> missing;
    for (const TransBranch& b : branches) {
      auto known = [&](const TransBranch& k) {
        return k.branch_id == b.branch_id && k.op == b.op;
      };
      if (std::none_of(have->begin(), have->end(), known) &&
          std::none_of(missing.begin(), missing.end(), known)) {
        missing.push_back(b);
        missing.back().create_time = missing.back().update_time = FromMillis(now_ms);
      }
    }
    if (have->size() + missing.size() > max_rows) {
      *too_many = true;
      return std::optional<std::string>(status);
    }
    if (missing.empty()) return std::optional<std::string>(status);  // a repeat
    const std::string all = BranchesValue(
        dialect_, have_bytes + EncodeBranches(missing, create_ms, /*first=*/false));
    const long long length = static_cast<long long>(have_bytes.size());
    soci::statement append =
        (sql_.prepare << "UPDATE dtx_trans SET branches = " << BranchesIn(dialect_)
                      << ", update_time = :now WHERE gid = :gid AND status = :status AND "
                      << bytes_of_column << " = :length",
         soci::use(all), soci::use(now_ms), soci::use(gid), soci::use(expected_status),
         soci::use(length));
    append.execute(true);
    if (append.get_affected_rows() == 1) return std::optional<std::string>(status);
  }
  throw soci::soci_error("transaction " + gid + " keeps changing");
}

const std::string& StoreStatements::Piped(PgPipeline& pipe, int kind) {
  static std::atomic<long> objects{0};
  std::string& name = piped_[kind];
  if (name.empty()) {
    const std::string candidate =
        absl::StrCat(kind == 0 ? "dtx_create_" : "dtx_update_", objects.fetch_add(1));
    pipe.Prepare(candidate,
                 kind == 0 ? InsertValues::Query(dialect_) : CasValues::Query(dialect_));
    name = candidate;
  }
  return name;
}

void StoreStatements::SendCreate(PgPipeline& pipe, const TransGlobal& g,
                                 const std::vector<TransBranch>& branches) {
  const std::string& name = Piped(pipe, 0);
  InsertValues values;  // not insert_: nothing may be prepared in a pipeline
  values.Set(dialect_, g, branches);
  Params params;
  values.AppendTo(&params);
  pipe.Send(name, params);
}

std::optional<bool> StoreStatements::ReadCreate(PgPipeline& pipe, std::string* error) {
  const std::optional<long long> affected = pipe.Next(error);
  if (!affected) return std::nullopt;
  return *affected == 1;  // none when the gid exists
}

void StoreStatements::SendUpdate(PgPipeline& pipe, const std::string& gid,
                                 const std::string& expected_status,
                                 const std::string& expected_owner,
                                 const std::vector<BranchUpdate>& branches,
                                 const GlobalUpdate& u, long long now_ms) {
  const std::string& name = Piped(pipe, 1);
  CasValues values;
  values.Set(gid, expected_status, expected_owner, branches, u, now_ms);
  Params params;
  values.AppendTo(&params);
  pipe.Send(name, params);
}

std::optional<bool> StoreStatements::ReadUpdate(PgPipeline& pipe, std::string* error) {
  const std::optional<long long> matched = pipe.Next(error);
  if (!matched) return std::nullopt;
  return *matched == 1;
}

// Reads rows by gid with one statement, prepared once for all of them.
struct StoreStatements::RowReader {
  GlobalRow row;
  std::string gid;
  soci::statement st;

  explicit RowReader(soci::session& sql) : st(sql) {
    row.Bind(st);
    st.exchange(soci::use(gid));
    Prepare(st, absl::StrCat("SELECT ", GlobalRow::kColumns,
                             " FROM dtx_trans WHERE gid = :gid"));
  }
  std::optional<absl::StatusOr<TransGlobal>> Read(const std::string& which) {
    gid = which;
    if (!st.execute(true)) return std::nullopt;
    return row.Get();
  }
};

std::optional<absl::StatusOr<TransGlobal>> StoreStatements::FindGlobal(
    const std::string& gid) {
  return RowReader(sql_).Read(gid);
}

absl::StatusOr<std::vector<TransBranch>> StoreStatements::FindBranches(
    const std::string& gid) {
  const std::optional<BranchColumns> row = ReadBranches(gid);
  if (!row) return std::vector<TransBranch>();
  return DecodeBranches(gid, row->bytes, row->log, row->create_ms);
}

absl::StatusOr<std::vector<TransGlobal>> StoreStatements::List(
    long long before_id, const std::string& status, const std::string& trans_type,
    int limit) {
  std::vector<TransGlobal> out;
  absl::Status s = SelectGlobals(
      sql_,
      absl::StrCat("WHERE id < :before", status.empty() ? "" : " AND status = :status",
                   trans_type.empty() ? "" : " AND trans_type = :trans_type",
                   " ORDER BY id DESC LIMIT :limit"),
      [&](soci::statement& st) {
        st.exchange(soci::use(before_id));
        if (!status.empty()) st.exchange(soci::use(status));
        if (!trans_type.empty()) st.exchange(soci::use(trans_type));
        st.exchange(soci::use(limit));
      },
      &out);
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<TransGlobal>> StoreStatements::ListUnfinished(
    long long created_before_ms, int limit) {
  std::vector<TransGlobal> out;
  absl::Status s = SelectGlobals(
      sql_,
      absl::StrCat("WHERE ", kUnfinished,
                   " AND create_time < :before ORDER BY create_time LIMIT :limit"),
      [&](soci::statement& st) {
        st.exchange(soci::use(created_before_ms));
        st.exchange(soci::use(limit));
      },
      &out);
  if (!s.ok()) return s;
  return out;
}

long long StoreStatements::CountUnfinished(std::optional<long long> created_before_ms) {
  long long count = 0;
  if (!created_before_ms) {
    sql_ << "SELECT COUNT(*) FROM dtx_trans WHERE " << kUnfinished, soci::into(count);
  } else {
    sql_ << "SELECT COUNT(*) FROM dtx_trans WHERE " << kUnfinished
         << " AND create_time < :before",
        soci::use(*created_before_ms), soci::into(count);
  }
  return count;
}

std::vector<std::pair<std::string, std::string>> StoreStatements::PickAndApply(
    const std::string& pick, long long t, int limit, soci::statement& apply,
    std::string* gid) {
  std::vector<std::pair<std::string, std::string>> picked, applied;
  {
    std::string owner;
    soci::statement select = (sql_.prepare << pick, soci::use(t), soci::use(limit),
                              soci::into(*gid), soci::into(owner));
    select.execute();
    while (select.fetch()) picked.emplace_back(*gid, owner);
  }
  for (auto& [candidate, owner] : picked) {
    *gid = candidate;
    apply.execute(true);
    if (apply.get_affected_rows() == 1) applied.emplace_back(candidate, owner);
  }
  return applied;
}

absl::StatusOr<std::vector<TransGlobal>> StoreStatements::ClaimDue(
    long long now_ms, long long lease_ms, const std::string& owner, int limit) {
  std::string gid;
  soci::statement claim =
      (sql_.prepare << "UPDATE dtx_trans SET owner = :owner, next_cron_time = :lease, "
                       "update_time = :now WHERE gid = :gid AND "
                    << kUnfinished << " AND next_cron_time <= :due",
       soci::use(owner), soci::use(lease_ms), soci::use(now_ms), soci::use(gid),
       soci::use(now_ms));
  const auto won = PickAndApply(
      absl::StrCat("SELECT gid, owner FROM dtx_trans WHERE ", kUnfinished,
                   " AND next_cron_time <= :now ORDER BY next_cron_time LIMIT :limit"),
      now_ms, limit, claim, &gid);
  std::vector<TransGlobal> claimed;
  if (won.empty()) return claimed;
  RowReader reader(sql_);
  for (const auto& [candidate, previous] : won) {
    std::optional<absl::StatusOr<TransGlobal>> g = reader.Read(candidate);
    if (!g) continue;
    if (!g->ok()) return g->status();
    (*g)->taken_from = previous;
    claimed.push_back(**std::move(g));
  }
  return claimed;
}

int StoreStatements::DeleteFinished(long long finished_before_ms, int limit) {
  std::string gid;
  soci::statement drop =
      (sql_.prepare << "DELETE FROM dtx_trans WHERE gid = :gid AND status IN "
                       "('succeed', 'failed')",
       soci::use(gid));
  return static_cast<int>(
      PickAndApply(
          "SELECT gid, owner FROM dtx_trans WHERE status IN ('succeed', "
          "'failed') AND finish_time < :before ORDER BY finish_time LIMIT :limit",
          finished_before_ms, limit, drop, &gid)
          .size());
}

}  // namespace dtx::internal
