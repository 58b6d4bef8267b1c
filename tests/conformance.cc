#include "conformance.h"

#include <catch2/catch.hpp>
#include <cstdlib>

#include "dtx/memory_store.h"
#include "dtx/soci/storage_url.h"
#include "test_util.h"

namespace dtx::testing {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// One SQLite file per test process, so that sessions and stores meet in it.
const std::string& SqliteUrl() {
  static const std::string url =
      "sqlite://" + NewTempDir("conformance") + "/conformance.db";
  return url;
}

}  // namespace

std::string ConformanceBackend() {
  std::string b = Env("DTX_CONFORMANCE_BACKEND");
  return b.empty() ? "sqlite" : b;
}

std::string ConformanceUrl() {
  const std::string b = ConformanceBackend();
  if (b == "postgresql") return Env("DTX_TEST_POSTGRES_URL");
  if (b == "mysql") return Env("DTX_TEST_MYSQL_URL");
  if (b == "memory") return "memory";
  return SqliteUrl();
}

std::unique_ptr<soci::session> OpenSession() {
  auto sql = std::make_unique<soci::session>();
  absl::Status s = dtx::OpenSession(*sql, ConformanceUrl());
  INFO(s.ToString());
  REQUIRE(s.ok());
  return sql;
}

std::unique_ptr<Store> FreshStore() { return FreshStore({.pool_size = 4}); }

std::unique_ptr<Store> FreshStore(SociStoreOptions options) {
  if (ConformanceBackend() == "memory") return std::make_unique<MemoryStore>();
  {
    auto sql = OpenSession();
    *sql << "DROP TABLE IF EXISTS dtx_trans";
    // The two-table layout, which the store would otherwise convert.
    *sql << "DROP TABLE IF EXISTS trans_branch_op";
    *sql << "DROP TABLE IF EXISTS trans_global";
  }
  options.url = ConformanceUrl();
  absl::StatusOr<std::unique_ptr<SociStore>> store = SociStore::Open(options);
  INFO(store.status().ToString());
  REQUIRE(store.ok());
  return *std::move(store);
}

}  // namespace dtx::testing
