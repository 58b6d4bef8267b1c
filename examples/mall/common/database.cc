#include "common/database.h"

#include <soci/sqlite3/soci-sqlite3.h>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "dtx/soci/barrier.h"

namespace mall {

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& path,
                                                         const std::string& schema,
                                                         int pool_size) {
  std::unique_ptr<Database> db(new Database(pool_size));
  try {
    for (int i = 0; i < pool_size; ++i) {
      soci::session& sql = db->pool_.at(i);
      sql.open(soci::sqlite3, "db=" + path + " timeout=30");
      sql << "PRAGMA journal_mode=WAL";
      sql << "PRAGMA synchronous=FULL";
    }
    soci::session sql(db->pool_);
    for (absl::string_view statement : absl::StrSplit(schema, ";\n")) {
      if (!absl::StripAsciiWhitespace(statement).empty()) sql << std::string(statement);
    }
    if (absl::Status s = dtx::Barrier::CreateTable(sql); !s.ok()) return s;
  } catch (const std::exception& e) {
    return absl::UnavailableError("opening " + path + ": " + e.what());
  }
  return db;
}

absl::Status Database::Run(const std::function<absl::Status(soci::session&)>& fn) {
  try {
    soci::session sql(pool_);
    return fn(sql);
  } catch (const std::exception& e) {
    return absl::UnavailableError(std::string("database: ") + e.what());
  }
}

}  // namespace mall
