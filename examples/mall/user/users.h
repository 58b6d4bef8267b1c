// The user service's domain: users in the user database.
#ifndef MALL_USER_USERS_H_
#define MALL_USER_USERS_H_

#include "absl/status/statusor.h"
#include "common/database.h"
#include "user.pb.h"

namespace mall {

inline constexpr Schema kUserSchema{
    "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "name VARCHAR(255) NOT NULL, mobile VARCHAR(32) NOT NULL UNIQUE)",
    "CREATE TABLE IF NOT EXISTS users (id BIGSERIAL PRIMARY KEY, "
    "name VARCHAR(255) NOT NULL, mobile VARCHAR(32) NOT NULL UNIQUE)",
    "CREATE TABLE IF NOT EXISTS users (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
    "name VARCHAR(255) NOT NULL, mobile VARCHAR(32) NOT NULL UNIQUE) ENGINE = InnoDB"};

class Users {
 public:
  explicit Users(Database* db) : db_(db) {}

  // kInvalidArgument for an empty name or mobile; kAlreadyExists for a taken mobile.
  absl::StatusOr<User> Create(const std::string& name, const std::string& mobile);
  // kNotFound for an unknown id.
  absl::StatusOr<User> Find(int64_t id);

 private:
  Database* db_;
};

}  // namespace mall

#endif  // MALL_USER_USERS_H_
