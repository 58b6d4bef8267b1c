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

class Database {
 public:
  // Opens `path` (created if absent) with `pool_size` connections in WAL mode, runs
  // `schema` (statements separated by ";\n", each idempotent) and creates the barrier
  // table.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path,
                                                        const std::string& schema,
                                                        int pool_size = 8);

  soci::connection_pool& pool() { return pool_; }

  // Runs `fn` on a pooled connection; a database exception becomes kUnavailable.
  absl::Status Run(const std::function<absl::Status(soci::session&)>& fn);

 private:
  explicit Database(int pool_size) : pool_(pool_size) {}
  soci::connection_pool pool_;
};

}  // namespace mall

#endif  // MALL_COMMON_DATABASE_H_
