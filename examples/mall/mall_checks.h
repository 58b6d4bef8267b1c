// What the mall's fault and kill tests check after a run, on any backend.
#ifndef MALL_MALL_CHECKS_H_
#define MALL_MALL_CHECKS_H_

#include <map>
#include <string>

namespace mall::testing {

// Drops the mall's tables and the barrier table in the database `url`.
void DropMallTables(const std::string& url);

// gid -> whether DecrStock (branch 02) took the stock and kept it: its business ran
// (the action's barrier row was written by the action itself) and no compensation ran.
std::map<std::string, bool> StockTaken(const std::string& product_db_url);

}  // namespace mall::testing

#endif  // MALL_MALL_CHECKS_H_
