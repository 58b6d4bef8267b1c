#include "common/database.h"

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "dtx/soci/barrier.h"
#include "dtx/soci/storage_url.h"

namespace mall {

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& url_or_path,
                                                         const Schema& schema,
                                                         int pool_size) {
  const std::string url = url_or_path.find("://") == std::string::npos
                              ? "sqlite://" + url_or_path
                              : url_or_path;
  std::unique_ptr<Database> db(new Database(pool_size));
  try {
    for (int i = 0; i < pool_size; ++i) {
      if (absl::Status s = dtx::OpenSession(db->pool_.at(i), url); !s.ok()) return s;
    }
    soci::session sql(db->pool_);
    db->backend_ = sql.get_backend_name();
    const char* tables = db->backend_ == "postgresql" ? schema.postgresql
                         : db->backend_ == "mysql"    ? schema.mysql
                                                      : schema.sqlite;
    for (absl::string_view statement : absl::StrSplit(tables, ";\n")) {
      if (!absl::StripAsciiWhitespace(statement).empty()) sql << std::string(statement);
    }
    if (absl::Status s = dtx::Barrier::CreateTable(sql); !s.ok()) return s;
  } catch (const std::exception& e) {
    return absl::UnavailableError("opening " + dtx::RedactedUrl(url) + ": " + e.what());
  }
  return db;
}

long long Database::LastInsertId(soci::session& sql) const {
  long long id = 0;
  if (backend_ == "postgresql") {
    sql << "SELECT lastval()", soci::into(id);
  } else if (backend_ == "mysql") {
    sql << "SELECT LAST_INSERT_ID()", soci::into(id);
  } else {
    sql << "SELECT last_insert_rowid()", soci::into(id);
  }
  return id;
}

absl::Status Database::Run(const std::function<absl::Status(soci::session&)>& fn) {
  try {
    soci::session sql(pool_);
    return fn(sql);
  } catch (const std::exception& e) {
    return absl::UnavailableError(std::string("database: ") + e.what());
  }
}

absl::Status Database::RunInTransaction(
    const std::function<absl::Status(soci::session&)>& fn) {
  return Run([&](soci::session& sql) {
    if (backend_ == "sqlite3") {
      sql << "BEGIN IMMEDIATE";
    } else {
      sql.begin();
    }
    absl::Status s;
    try {
      s = fn(sql);
    } catch (...) {
      sql.rollback();
      throw;
    }
    if (s.ok()) {
      sql.commit();
    } else {
      sql.rollback();
    }
    return s;
  });
}

}  // namespace mall
