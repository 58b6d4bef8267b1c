// The order service's domain: orders in the order database. An order remembers the
// saga (gid) that created it, so that the saga's compensation finds exactly it.
#ifndef MALL_ORDER_ORDERS_H_
#define MALL_ORDER_ORDERS_H_

#include <soci/soci.h>

#include <vector>

#include "absl/status/statusor.h"
#include "common/database.h"
#include "order.pb.h"

namespace mall {

inline constexpr int64_t kOrderCreated = 0;
inline constexpr int64_t kOrderPaying = 1;  // a payment's try holds it
inline constexpr int64_t kOrderPaid = 2;
inline constexpr int64_t kOrderInvalid = 9;  // its saga rolled back

inline constexpr Schema kOrderSchema{
    "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "gid VARCHAR(128) NOT NULL UNIQUE, uid BIGINT NOT NULL, pid BIGINT NOT NULL, "
    "amount BIGINT NOT NULL, num BIGINT NOT NULL, status BIGINT NOT NULL);\n"
    "CREATE INDEX IF NOT EXISTS orders_uid ON orders (uid)",
    "CREATE TABLE IF NOT EXISTS orders (id BIGSERIAL PRIMARY KEY, "
    "gid VARCHAR(128) NOT NULL UNIQUE, uid BIGINT NOT NULL, pid BIGINT NOT NULL, "
    "amount BIGINT NOT NULL, num BIGINT NOT NULL, status BIGINT NOT NULL);\n"
    "CREATE INDEX IF NOT EXISTS orders_uid ON orders (uid)",
    "CREATE TABLE IF NOT EXISTS orders (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
    "gid VARCHAR(128) NOT NULL UNIQUE, uid BIGINT NOT NULL, pid BIGINT NOT NULL, "
    "amount BIGINT NOT NULL, num BIGINT NOT NULL, status BIGINT NOT NULL, "
    "KEY orders_uid (uid)) ENGINE = InnoDB"};

class Orders {
 public:
  explicit Orders(Database* db) : db_(db) {}

  // Inside the caller's transaction: writes the order of saga `gid`, status created.
  // FAILURE for a non-positive num.
  static absl::Status Create(soci::session& tx, const std::string& gid,
                             const OrderCreateRequest& request);
  // Inside the caller's transaction: marks the order of saga `gid` invalid. No order
  // (its Create never ran) is fine: nothing to undo.
  static absl::Status Invalidate(soci::session& tx, const std::string& gid);

  // The order's TCC branch of a payment, inside the caller's transaction (behind its
  // barrier). StartPaying moves the order from created to paying when `request`'s uid
  // and amount are the order's, and answers FAILURE (dtx::FailureError) otherwise;
  // FinishPaying moves it from paying to paid, StopPaying back to created. Each
  // changes only an order in the status it expects, so a late or repeated call
  // changes nothing.
  static absl::Status StartPaying(soci::session& tx, const OrderPayRequest& request);
  static absl::Status FinishPaying(soci::session& tx, int64_t id);
  static absl::Status StopPaying(soci::session& tx, int64_t id);

  // kNotFound when there is none.
  absl::StatusOr<Order> FindById(int64_t id);
  absl::StatusOr<Order> FindByGid(const std::string& gid);
  absl::StatusOr<std::vector<Order>> ListByUser(int64_t uid);

 private:
  absl::StatusOr<std::vector<Order>> Select(const std::string& where,
                                            const std::string& key);
  Database* db_;
};

}  // namespace mall

#endif  // MALL_ORDER_ORDERS_H_
