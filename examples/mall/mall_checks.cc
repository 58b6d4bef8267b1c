#include "mall_checks.h"

#include <soci/soci.h>

#include <catch2/catch.hpp>
#include <vector>

#include "dtx/soci/barrier.h"
#include "dtx/soci/storage_url.h"

namespace mall::testing {
namespace {

std::string BarrierTable(soci::session& sql) {
  absl::StatusOr<std::string> table = dtx::Barrier::TableName(sql);
  REQUIRE(table.ok());
  return *table;
}

}  // namespace

void DropMallTables(const std::string& url) {
  soci::session sql;
  REQUIRE(dtx::OpenSession(sql, url).ok());
  for (const std::string& table : std::vector<std::string>{
           "users", "wallet", "product", "orders", "payment", BarrierTable(sql)}) {
    sql << "DROP TABLE IF EXISTS " + table;
  }
}

std::map<std::string, bool> StockTaken(const std::string& product_db_url) {
  soci::session sql;
  REQUIRE(dtx::OpenSession(sql, product_db_url).ok());
  std::map<std::string, bool> taken;
  std::map<std::string, int> action_ran, compensated;
  std::string gid, op, reason;
  soci::statement st = (sql.prepare << "SELECT gid, op, reason FROM " +
                                           BarrierTable(sql) + " WHERE branch_id = '02'",
                        soci::into(gid), soci::into(op), soci::into(reason));
  st.execute();
  while (st.fetch()) {
    if (op == "action" && reason == "action") ++action_ran[gid];
    if (op == "compensate") ++compensated[gid];
    taken[gid] = false;
  }
  for (auto& [g, t] : taken) t = action_ran.count(g) > 0 && compensated.count(g) == 0;
  return taken;
}

}  // namespace mall::testing
