#include "order/orders.h"

#include "dtx/result.h"

namespace mall {

absl::Status Orders::Create(soci::session& tx, const std::string& gid,
                            const OrderCreateRequest& r) {
  if (r.num() <= 0) return dtx::FailureError("num must be positive");
  long long uid = r.uid(), pid = r.pid(), amount = r.amount(), num = r.num(),
            status = kOrderCreated;
  tx << "INSERT INTO orders (gid, uid, pid, amount, num, status) VALUES (:g, :u, :p, :a, "
        ":n, :s)",
      soci::use(gid), soci::use(uid), soci::use(pid), soci::use(amount), soci::use(num),
      soci::use(status);
  return absl::OkStatus();
}

absl::Status Orders::Invalidate(soci::session& tx, const std::string& gid) {
  long long status = kOrderInvalid;
  tx << "UPDATE orders SET status = :s WHERE gid = :g", soci::use(status), soci::use(gid);
  return absl::OkStatus();
}

namespace {

// Moves order `id` from status `from` to `to`; answers whether it did.
bool Move(soci::session& tx, int64_t id, int64_t from, int64_t to) {
  return Changed(tx, "UPDATE orders SET status = :t WHERE id = :id AND status = :f",
                 static_cast<long long>(to), static_cast<long long>(id),
                 static_cast<long long>(from)) == 1;
}

}  // namespace

absl::Status Orders::StartPaying(soci::session& tx, const OrderPayRequest& r) {
  long long key = r.id(), uid = 0, amount = 0, status = 0;
  tx << "SELECT uid, amount, status FROM orders WHERE id = :id", soci::use(key),
      soci::into(uid), soci::into(amount), soci::into(status);
  const std::string order = "order " + std::to_string(r.id());
  if (!tx.got_data()) return dtx::FailureError("no " + order);
  if (uid != r.uid() || amount != r.amount()) {
    return dtx::FailureError(order + " is of another user or amount");
  }
  if (status != kOrderCreated || !Move(tx, r.id(), kOrderCreated, kOrderPaying)) {
    return dtx::FailureError(order + " is not awaiting payment (status " +
                             std::to_string(status) + ")");
  }
  return absl::OkStatus();
}

absl::Status Orders::FinishPaying(soci::session& tx, int64_t id) {
  Move(tx, id, kOrderPaying, kOrderPaid);
  return absl::OkStatus();
}

absl::Status Orders::StopPaying(soci::session& tx, int64_t id) {
  Move(tx, id, kOrderPaying, kOrderCreated);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Order>> Orders::Select(const std::string& where,
                                                  const std::string& key) {
  std::vector<Order> out;
  absl::Status s = db_->Run([&](soci::session& sql) {
    long long id = 0, uid = 0, pid = 0, amount = 0, num = 0, status = 0;
    std::string gid;
    soci::statement st =
        (sql.prepare
             << "SELECT id, gid, uid, pid, amount, num, status FROM orders WHERE " +
                    where + " ORDER BY id",
         soci::use(key), soci::into(id), soci::into(gid), soci::into(uid),
         soci::into(pid), soci::into(amount), soci::into(num), soci::into(status));
    st.execute();
    while (st.fetch()) {
      Order o;
      o.set_id(id);
      o.set_gid(gid);
      o.set_uid(uid);
      o.set_pid(pid);
      o.set_amount(amount);
      o.set_num(num);
      o.set_status(status);
      out.push_back(std::move(o));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<Order> Orders::FindById(int64_t id) {
  absl::StatusOr<std::vector<Order>> found = Select("id = :k", std::to_string(id));
  if (!found.ok()) return found.status();
  if (found->empty()) return absl::NotFoundError("no order " + std::to_string(id));
  return found->front();
}

absl::StatusOr<Order> Orders::FindByGid(const std::string& gid) {
  absl::StatusOr<std::vector<Order>> found = Select("gid = :k", gid);
  if (!found.ok()) return found.status();
  if (found->empty()) return absl::NotFoundError("no order of transaction " + gid);
  return found->front();
}

absl::StatusOr<std::vector<Order>> Orders::ListByUser(int64_t uid) {
  return Select("uid = :k", std::to_string(uid));
}

}  // namespace mall
