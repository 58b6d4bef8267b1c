#include "product/products.h"

#include "dtx/result.h"

namespace mall {
namespace {

absl::Status Read(soci::session& sql, int64_t id, Product* p) {
  long long key = id, stock = 0, amount = 0, status = 0;
  std::string name, desc;
  sql << "SELECT name, description, stock, amount, status FROM product WHERE id = :id",
      soci::use(key), soci::into(name), soci::into(desc), soci::into(stock),
      soci::into(amount), soci::into(status);
  if (!sql.got_data()) return absl::NotFoundError("no product " + std::to_string(id));
  p->set_id(id);
  p->set_name(name);
  p->set_desc(desc);
  p->set_stock(stock);
  p->set_amount(amount);
  p->set_status(status);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Product> Products::Create(const Product& in) {
  if (in.name().empty() || in.stock() < 0 || in.amount() < 0) {
    return absl::InvalidArgumentError(
        "a product needs a name, stock >= 0 and amount >= 0");
  }
  Product out;
  absl::Status s = db_->Run([&](soci::session& sql) {
    long long stock = in.stock(), amount = in.amount(), status = in.status(), id = 0;
    sql << "INSERT INTO product (name, description, stock, amount, status) VALUES (:n, "
           ":d, "
           ":s, "
           ":a, "
           ":st)",
        soci::use(in.name()), soci::use(in.desc()), soci::use(stock), soci::use(amount),
        soci::use(status);
    id = db_->LastInsertId(sql);
    return Read(sql, id, &out);
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<Product> Products::Find(int64_t id) {
  Product out;
  absl::Status s = db_->Run([&](soci::session& sql) { return Read(sql, id, &out); });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<Product> Products::SetStock(int64_t id, int64_t stock) {
  if (stock < 0) return absl::InvalidArgumentError("stock must be >= 0");
  Product out;
  absl::Status s = db_->Run([&](soci::session& sql) {
    long long key = id, value = stock;
    sql << "UPDATE product SET stock = :s WHERE id = :id", soci::use(value),
        soci::use(key);
    return Read(sql, id, &out);
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status Products::DecrStock(soci::session& tx, int64_t id, int64_t num) {
  if (num <= 0) return dtx::FailureError("num must be positive");
  long long key = id, n = num, n2 = num;
  soci::statement take = (tx.prepare << "UPDATE product SET stock = stock - :n "
                                        "WHERE id = :id AND stock >= :n2",
                          soci::use(n), soci::use(key), soci::use(n2));
  take.execute(true);
  if (take.get_affected_rows() == 1) return absl::OkStatus();
  Product p;
  if (!Read(tx, id, &p).ok())
    return dtx::FailureError("no product " + std::to_string(id));
  return dtx::FailureError("insufficient stock: " + std::to_string(p.stock()) +
                           " left, " + std::to_string(num) + " wanted");
}

absl::Status Products::IncrStock(soci::session& tx, int64_t id, int64_t num) {
  long long key = id, n = num;
  tx << "UPDATE product SET stock = stock + :n WHERE id = :id", soci::use(n),
      soci::use(key);
  return absl::OkStatus();
}

}  // namespace mall
