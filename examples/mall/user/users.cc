#include "user/users.h"

namespace mall {

absl::StatusOr<User> Users::Create(const std::string& name, const std::string& mobile) {
  if (name.empty() || mobile.empty()) {
    return absl::InvalidArgumentError("name and mobile are required");
  }
  User user;
  absl::Status s = db_->Run([&](soci::session& sql) {
    int taken = 0;
    sql << "SELECT COUNT(*) FROM users WHERE mobile = :m", soci::use(mobile),
        soci::into(taken);
    if (taken > 0) return absl::AlreadyExistsError("mobile " + mobile + " is taken");
    sql << "INSERT INTO users (name, mobile) VALUES (:n, :m)", soci::use(name),
        soci::use(mobile);
    user.set_id(db_->LastInsertId(sql));
    user.set_name(name);
    user.set_mobile(mobile);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return user;
}

absl::StatusOr<User> Users::Find(int64_t id) {
  User user;
  absl::Status s = db_->Run([&](soci::session& sql) {
    std::string name, mobile;
    long long key = id;
    sql << "SELECT name, mobile FROM users WHERE id = :id", soci::use(key),
        soci::into(name), soci::into(mobile);
    if (!sql.got_data()) return absl::NotFoundError("no user " + std::to_string(id));
    user.set_id(id);
    user.set_name(name);
    user.set_mobile(mobile);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return user;
}

}  // namespace mall
