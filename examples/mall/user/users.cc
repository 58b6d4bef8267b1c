#include "user/users.h"

#include "dtx/result.h"

namespace mall {
namespace {

absl::Status Read(soci::session& sql, int64_t id, User* user) {
  std::string name, mobile;
  long long key = id;
  sql << "SELECT name, mobile FROM users WHERE id = :id", soci::use(key),
      soci::into(name), soci::into(mobile);
  if (!sql.got_data()) return absl::NotFoundError("no user " + std::to_string(id));
  long long balance = 0, frozen = 0, points = 0;
  sql << "SELECT balance, frozen, points FROM wallet WHERE uid = :id", soci::use(key),
      soci::into(balance), soci::into(frozen), soci::into(points);
  user->set_id(id);
  user->set_name(name);
  user->set_mobile(mobile);
  user->set_balance(balance);
  user->set_frozen(frozen);
  user->set_points(points);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<User> Users::Create(const std::string& name, const std::string& mobile,
                                   int64_t balance) {
  if (name.empty() || mobile.empty() || balance < 0) {
    return absl::InvalidArgumentError("name and mobile are required, balance >= 0");
  }
  User user;
  absl::Status s = db_->RunInTransaction([&](soci::session& sql) {
    int taken = 0;
    sql << "SELECT COUNT(*) FROM users WHERE mobile = :m", soci::use(mobile),
        soci::into(taken);
    if (taken > 0) return absl::AlreadyExistsError("mobile " + mobile + " is taken");
    sql << "INSERT INTO users (name, mobile) VALUES (:n, :m)", soci::use(name),
        soci::use(mobile);
    const long long id = db_->LastInsertId(sql), money = balance;
    sql << "INSERT INTO wallet (uid, balance, frozen, points) VALUES (:u, :b, 0, 0)",
        soci::use(id), soci::use(money);
    return Read(sql, id, &user);
  });
  if (!s.ok()) return s;
  return user;
}

absl::StatusOr<User> Users::Find(int64_t id) {
  User user;
  absl::Status s = db_->Run([&](soci::session& sql) { return Read(sql, id, &user); });
  if (!s.ok()) return s;
  return user;
}

absl::Status Users::Freeze(soci::session& tx, int64_t uid, int64_t amount) {
  if (amount <= 0) return dtx::FailureError("amount must be positive");
  long long key = uid, a = amount, a2 = amount;
  if (Changed(tx,
              "UPDATE wallet SET frozen = frozen + :a "
              "WHERE uid = :u AND balance - frozen >= :a2",
              a, key, a2) == 1) {
    return absl::OkStatus();
  }
  User user;
  if (!Read(tx, uid, &user).ok())
    return dtx::FailureError("no user " + std::to_string(uid));
  // A user without a wallet (created before wallets) shows 0 available.
  return dtx::FailureError(
      "insufficient balance: " + std::to_string(user.balance() - user.frozen()) +
      " available, " + std::to_string(amount) + " wanted");
}

absl::Status Users::Take(soci::session& tx, int64_t uid, int64_t amount) {
  long long key = uid, a = amount, a2 = amount, a3 = amount;
  if (Changed(tx,
              "UPDATE wallet SET balance = balance - :a, frozen = frozen - :a2 "
              "WHERE uid = :u AND frozen >= :a3",
              a, a2, key, a3) == 1) {
    return absl::OkStatus();
  }
  return absl::InternalError("the wallet of user " + std::to_string(uid) +
                             " has less than " + std::to_string(amount) + " frozen");
}

absl::Status Users::Release(soci::session& tx, int64_t uid, int64_t amount) {
  long long key = uid, a = amount, a2 = amount;
  if (Changed(tx,
              "UPDATE wallet SET frozen = frozen - :a WHERE uid = :u AND frozen >= :a2",
              a, key, a2) == 1) {
    return absl::OkStatus();
  }
  return absl::InternalError("the wallet of user " + std::to_string(uid) +
                             " has less than " + std::to_string(amount) + " frozen");
}

absl::Status Users::CreditPoints(soci::session& tx, int64_t uid, int64_t points) {
  if (points < 0) return dtx::FailureError("points must be >= 0");
  if (points == 0) return absl::OkStatus();
  long long key = uid, p = points;
  if (Changed(tx, "UPDATE wallet SET points = points + :p WHERE uid = :u", p, key) == 1) {
    return absl::OkStatus();
  }
  tx << "INSERT INTO wallet (uid, balance, frozen, points) VALUES (:u, 0, 0, :p)",
      soci::use(key), soci::use(p);
  return absl::OkStatus();
}

}  // namespace mall
