#include "dtx/soci/storage_url.h"

#include <soci/mysql/soci-mysql.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include "absl/strings/numbers.h"
#include "soci/sql.h"

namespace dtx {
namespace {

// A value for a libpq / SOCI connect string, quoted.
std::string Quote(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\\' || c == '\'') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    int value = 0;
    if (i + 2 >= in.size()) return false;  // "%" needs two hex digits after it
    if (!absl::SimpleHexAtoi(std::string(in.substr(i + 1, 2)), &value)) return false;
    out->push_back(static_cast<char>(value));
    i += 2;
  }
  return true;
}

}  // namespace

absl::StatusOr<StorageTarget> ParseStorageUrl(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return absl::InvalidArgumentError(
        "storage URL '" + std::string(url) +
        "' has no scheme (sqlite://, postgresql://, mysql://)");
  }
  const std::string scheme(url.substr(0, scheme_end));
  std::string_view rest = url.substr(scheme_end + 3);
  if (scheme == "sqlite") {
    if (rest.empty())
      return absl::InvalidArgumentError("storage URL has no database path");
    if (rest.find('"') != std::string_view::npos) {
      return absl::InvalidArgumentError("an SQLite path may not hold '\"'");
    }
    // SOCI's SQLite backend takes double quotes around a value.
    return StorageTarget{"sqlite3", "db=\"" + std::string(rest) + "\" timeout=30"};
  }
  if (scheme != "postgresql" && scheme != "postgres" && scheme != "mysql") {
    return absl::InvalidArgumentError("unsupported storage URL scheme '" + scheme +
                                      "': use sqlite, postgresql or mysql");
  }
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 == rest.size()) {
    return absl::InvalidArgumentError("storage URL names no database: '" +
                                      std::string(url) + "'");
  }
  std::string_view authority = rest.substr(0, slash);
  const std::string database(rest.substr(slash + 1));
  std::string user, password;
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view credentials = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const size_t colon = credentials.find(':');
    if (!PercentDecode(credentials.substr(0, colon), &user) ||
        (colon != std::string_view::npos &&
         !PercentDecode(credentials.substr(colon + 1), &password))) {
      return absl::InvalidArgumentError("storage URL has a bad percent-encoding");
    }
  }
  std::string host(authority), port;
  if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = std::string(authority.substr(0, colon));
    port = std::string(authority.substr(colon + 1));
    int number = 0;
    if (!absl::SimpleAtoi(port, &number) || number <= 0 || number > 65535) {
      return absl::InvalidArgumentError("storage URL has a bad port '" + port + "'");
    }
  }
  if (host.empty()) return absl::InvalidArgumentError("storage URL names no host");
  const bool pg = scheme != "mysql";
  std::string connect =
      "host=" + Quote(host) + (pg ? " dbname=" : " db=") + Quote(database);
  if (!port.empty()) connect += " port=" + port;
  if (!user.empty()) connect += " user=" + Quote(user);
  if (!password.empty()) connect += " password=" + Quote(password);
  // A database that accepts connections and never answers must not hang a caller for
  // ever (dtxd's start-up among them). libpq: a connect deadline, and keepalives that
  // find a vanished server; it has no read deadline, so a statement waits for a silent
  // server until the keepalives give up. MySQL: deadlines on connect, read and write.
  if (pg) {
    connect +=
        " connect_timeout=10 keepalives=1 keepalives_idle=30"
        " keepalives_interval=10 keepalives_count=3";
  } else {
    connect += " charset=utf8mb4 connect_timeout=10 read_timeout=60 write_timeout=60";
  }
  return StorageTarget{pg ? "postgresql" : "mysql", connect};
}

absl::Status OpenSession(soci::session& sql, std::string_view url) {
  absl::StatusOr<StorageTarget> target = ParseStorageUrl(url);
  if (!target.ok()) return target.status();
  try {
    if (target->backend == "sqlite3") {
      sql.open(soci::sqlite3, target->connect);
      internal::SetUpSession(sql, internal::Dialect::kSqlite);
    } else if (target->backend == "postgresql") {
      sql.open(soci::postgresql, target->connect);
    } else {
      sql.open(soci::mysql, target->connect);
      internal::SetUpSession(sql, internal::Dialect::kMysql);
    }
  } catch (const std::exception& e) {
    return internal::DatabaseError("opening " + RedactedUrl(url), e);
  }
  return absl::OkStatus();
}

// The URL without its password, for messages.
std::string RedactedUrl(std::string_view url_view) {
  const std::string url(url_view);
  const size_t scheme_end = url.find("://");
  const size_t at = url.rfind('@');
  if (scheme_end == std::string::npos || at == std::string::npos) return url;
  const size_t colon = url.find(':', scheme_end + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

}  // namespace dtx
