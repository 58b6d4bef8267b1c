#include "pay/payments.h"

#include "dtx/result.h"

namespace mall {
namespace {

absl::Status Read(soci::session& sql, int64_t oid, Payment* p) {
  long long key = oid, id = 0, uid = 0, amount = 0, status = 0;
  std::string gid;
  sql << "SELECT id, uid, amount, gid, status FROM payment WHERE oid = :o",
      soci::use(key), soci::into(id), soci::into(uid), soci::into(amount),
      soci::into(gid), soci::into(status);
  if (!sql.got_data()) {
    return absl::NotFoundError("order " + std::to_string(oid) + " has no payment");
  }
  p->set_id(id);
  p->set_oid(oid);
  p->set_uid(uid);
  p->set_amount(amount);
  p->set_gid(gid);
  p->set_status(status);
  return absl::OkStatus();
}

// Moves the payment of `oid` under `gid` from `from` to `to`; answers whether it did.
bool Move(soci::session& sql, int64_t oid, const std::string& gid, int64_t from,
          int64_t to) {
  return Changed(sql,
                 "UPDATE payment SET status = :t "
                 "WHERE oid = :o AND gid = :g AND status = :f",
                 static_cast<long long>(to), static_cast<long long>(oid), gid,
                 static_cast<long long>(from)) == 1;
}

absl::Status Taken(int64_t oid) {
  return absl::AlreadyExistsError("order " + std::to_string(oid) +
                                  " has a payment in flight or paid");
}

}  // namespace

absl::StatusOr<Payment> Payments::FindByOrder(int64_t oid) {
  Payment p;
  absl::Status s = db_->Run([&](soci::session& sql) { return Read(sql, oid, &p); });
  if (!s.ok()) return s;
  return p;
}

absl::StatusOr<std::vector<Payment>> Payments::ListPaying(int limit) {
  std::vector<Payment> out;
  absl::Status s = db_->Run([&](soci::session& sql) {
    long long id = 0, oid = 0, uid = 0, amount = 0, status = kPaymentPaying, n = limit;
    std::string gid;
    soci::statement st =
        (sql.prepare << "SELECT id, oid, uid, amount, gid FROM payment "
                        "WHERE status = :s ORDER BY id LIMIT :n",
         soci::use(status), soci::use(n), soci::into(id), soci::into(oid),
         soci::into(uid), soci::into(amount), soci::into(gid));
    st.execute();
    while (st.fetch()) {
      Payment& p = out.emplace_back();
      p.set_id(id);
      p.set_oid(oid);
      p.set_uid(uid);
      p.set_amount(amount);
      p.set_gid(gid);
      p.set_status(kPaymentPaying);
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<Payment> Payments::Begin(int64_t oid, int64_t uid, int64_t amount,
                                        const std::string& gid) {
  Payment p;
  absl::Status s = db_->Run([&](soci::session& sql) {
    long long o = oid, u = uid, a = amount, paying = kPaymentPaying,
              failed = kPaymentFailed;  // soci binds lvalues of these types
    std::string g = gid;
    absl::Status found = Read(sql, oid, &p);
    if (found.ok()) {
      if (p.status() != kPaymentFailed) return Taken(oid);
      if (Changed(sql,
                  "UPDATE payment SET uid = :u, amount = :a, gid = :g, status = :s "
                  "WHERE oid = :o AND status = :f",
                  u, a, g, paying, o, failed) != 1) {
        return Taken(oid);
      }
    } else if (absl::IsNotFound(found)) {
      try {
        sql << "INSERT INTO payment (oid, uid, amount, gid, status) "
               "VALUES (:o, :u, :a, :g, :s)",
            soci::use(o), soci::use(u), soci::use(a), soci::use(g), soci::use(paying);
      } catch (const soci::soci_error&) {
        // The UNIQUE oid: another attempt inserted it first.
        if (Read(sql, oid, &p).ok()) return Taken(oid);
        throw;
      }
    } else {
      return found;
    }
    return Read(sql, oid, &p);
  });
  if (!s.ok()) return s;
  return p;
}

absl::Status Payments::Fail(int64_t oid, const std::string& gid) {
  return db_->Run([&](soci::session& sql) {
    Move(sql, oid, gid, kPaymentPaying, kPaymentFailed);
    return absl::OkStatus();
  });
}

absl::Status Payments::MarkPaid(soci::session& tx, int64_t oid, const std::string& gid) {
  if (Move(tx, oid, gid, kPaymentPaying, kPaymentPaid)) return absl::OkStatus();
  return dtx::FailureError("the payment of order " + std::to_string(oid) +
                           " is no longer paying under " + gid);
}

}  // namespace mall
