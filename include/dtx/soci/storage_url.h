// Storage URLs: one string names a database on any backend dtx supports.
#ifndef DTX_SOCI_STORAGE_URL_H_
#define DTX_SOCI_STORAGE_URL_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace soci {
class session;
}  // namespace soci

namespace dtx {

// A storage URL as SOCI sees it: the backend's name and its connect string.
struct StorageTarget {
  std::string backend;  // "sqlite3", "postgresql" or "mysql"
  std::string connect;
};

// Reads a storage URL:
//   sqlite:///absolute/path.db   sqlite://relative/path.db
//   postgresql://user:password@host:port/database   (also postgres://)
//   mysql://user:password@host:port/database        (MySQL and MariaDB)
// User and password may be percent-encoded. kInvalidArgument names what is wrong.
// Connections to a server get deadlines: 10 s to connect; on MySQL 60 s per read and
// write; on PostgreSQL TCP keepalives (a dead server is found in about a minute; libpq
// has no read deadline).
absl::StatusOr<StorageTarget> ParseStorageUrl(std::string_view url);

// Opens `sql` on the database `url` names (SQLite: WAL mode, synchronous=FULL;
// MySQL: READ COMMITTED). kInvalidArgument for a bad URL, kUnavailable when the
// database cannot be reached.
absl::Status OpenSession(soci::session& sql, std::string_view url);

// `url` with its password replaced by "***", for messages and logs.
std::string RedactedUrl(std::string_view url);

}  // namespace dtx

#endif  // DTX_SOCI_STORAGE_URL_H_
