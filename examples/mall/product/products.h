// The product service's domain: products and their stock in the product database.
// Stock never goes negative: every change is one conditional UPDATE.
#ifndef MALL_PRODUCT_PRODUCTS_H_
#define MALL_PRODUCT_PRODUCTS_H_

#include <soci/soci.h>

#include "absl/status/statusor.h"
#include "common/database.h"
#include "product.pb.h"

namespace mall {

inline constexpr Schema kProductSchema{
    "CREATE TABLE IF NOT EXISTS product (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "name VARCHAR(255) NOT NULL, description VARCHAR(1024) NOT NULL DEFAULT '', "
    "stock BIGINT NOT NULL CHECK (stock >= 0), amount BIGINT NOT NULL, "
    "status BIGINT NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS product (id BIGSERIAL PRIMARY KEY, "
    "name VARCHAR(255) NOT NULL, description VARCHAR(1024) NOT NULL DEFAULT '', "
    "stock BIGINT NOT NULL CHECK (stock >= 0), amount BIGINT NOT NULL, "
    "status BIGINT NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS product (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
    "name VARCHAR(255) NOT NULL, description VARCHAR(1024) NOT NULL DEFAULT '', "
    "stock BIGINT NOT NULL CHECK (stock >= 0), amount BIGINT NOT NULL, "
    "status BIGINT NOT NULL DEFAULT 0) ENGINE = InnoDB"};

class Products {
 public:
  explicit Products(Database* db) : db_(db) {}

  // kInvalidArgument for an empty name, a negative stock or amount.
  absl::StatusOr<Product> Create(const Product& product);
  // kNotFound for an unknown id.
  absl::StatusOr<Product> Find(int64_t id);
  // kInvalidArgument for a negative stock, kNotFound for an unknown id.
  absl::StatusOr<Product> SetStock(int64_t id, int64_t stock);

  // Inside the caller's transaction: takes `num` (> 0) units. FAILURE
  // (dtx::FailureError) when the product is unknown or has fewer than `num` left.
  static absl::Status DecrStock(soci::session& tx, int64_t id, int64_t num);
  // Inside the caller's transaction: gives `num` units back.
  static absl::Status IncrStock(soci::session& tx, int64_t id, int64_t num);

 private:
  Database* db_;
};

}  // namespace mall

#endif  // MALL_PRODUCT_PRODUCTS_H_
