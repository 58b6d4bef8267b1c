// A service's own SQLite database: a pool of connections, its schema and the barrier
// table. Every mall service has one; no two share.
#ifndef MALL_COMMON_DATABASE_H_
#define MALL_COMMON_DATABASE_H_

#include <soci/soci.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mall {

// A service's tables in each SQL dialect; statements separated by ";\n", idempotent.
struct Schema {
  const char* sqlite;
  const char* postgresql;
  const char* mysql;
};

class Database {
 public:
  // Opens the database `url` names (a dtx storage URL: sqlite://, postgresql://,
  // mysql://; a plain path is an SQLite file) with `pool_size` connections, creates
  // the tables of `schema` for its dialect and the barrier table.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& url,
                                                        const Schema& schema,
                                                        int pool_size = 8);

  soci::connection_pool& pool() { return pool_; }

  // The id the last INSERT on `sql` generated.
  long long LastInsertId(soci::session& sql) const;

  // Runs `fn` on a pooled connection; a database exception becomes kUnavailable.
  absl::Status Run(const std::function<absl::Status(soci::session&)>& fn);
  // As Run, inside one local transaction, committed when `fn` returns OK. On SQLite it
  // takes the write lock at once (BEGIN IMMEDIATE): a deferred transaction that reads
  // and then writes fails with "database is locked" instead of waiting for another
  // writer.
  absl::Status RunInTransaction(const std::function<absl::Status(soci::session&)>& fn);

 private:
  explicit Database(int pool_size) : pool_(pool_size) {}
  soci::connection_pool pool_;
  std::string backend_;
};

// Runs `statement` (an UPDATE) on `sql` with `values` bound in order, and answers how
// many rows it changed. On MySQL a row it matched but left as it was does not count:
// callers check statements that always change what they match.
template <typename... Values>
long long Changed(soci::session& sql, const std::string& statement, Values... values) {
  soci::statement st = ((sql.prepare << statement), ..., soci::use(values));
  st.execute(true);
  return st.get_affected_rows();
}

}  // namespace mall

#endif  // MALL_COMMON_DATABASE_H_
