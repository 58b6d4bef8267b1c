// The user service's domain: users and their wallets in the user database.
#ifndef MALL_USER_USERS_H_
#define MALL_USER_USERS_H_

#include "absl/status/statusor.h"
#include "common/database.h"
#include "user.pb.h"

namespace mall {

// A wallet holds a balance, the part of it frozen by payments in flight (never more
// than the balance) and loyalty points; every change is one conditional UPDATE.
inline constexpr Schema kUserSchema{
    "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "name VARCHAR(255) NOT NULL, mobile VARCHAR(32) NOT NULL UNIQUE);\n"
    "CREATE TABLE IF NOT EXISTS wallet (uid BIGINT NOT NULL PRIMARY KEY, "
    "balance BIGINT NOT NULL, frozen BIGINT NOT NULL, points BIGINT NOT NULL, "
    "CHECK (frozen >= 0 AND frozen <= balance AND points >= 0))",
    "CREATE TABLE IF NOT EXISTS users (id BIGSERIAL PRIMARY KEY, "
    "name VARCHAR(255) NOT NULL, mobile VARCHAR(32) NOT NULL UNIQUE);\n"
    "CREATE TABLE IF NOT EXISTS wallet (uid BIGINT NOT NULL PRIMARY KEY, "
    "balance BIGINT NOT NULL, frozen BIGINT NOT NULL, points BIGINT NOT NULL, "
    "CHECK (frozen >= 0 AND frozen <= balance AND points >= 0))",
    "CREATE TABLE IF NOT EXISTS users (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
    "name VARCHAR(255) NOT NULL, mobile VARCHAR(32) NOT NULL UNIQUE) ENGINE = InnoDB;\n"
    "CREATE TABLE IF NOT EXISTS wallet (uid BIGINT NOT NULL PRIMARY KEY, "
    "balance BIGINT NOT NULL, frozen BIGINT NOT NULL, points BIGINT NOT NULL, "
    "CHECK (frozen >= 0 AND frozen <= balance AND points >= 0)) ENGINE = InnoDB"};

class Users {
 public:
  explicit Users(Database* db) : db_(db) {}

  // Creates the user and its wallet with `balance` (cents). kInvalidArgument for an
  // empty name or mobile or a negative balance; kAlreadyExists for a taken mobile.
  absl::StatusOr<User> Create(const std::string& name, const std::string& mobile,
                              int64_t balance = 0);
  // The user with its wallet (zeros for a user without one). kNotFound for an
  // unknown id.
  absl::StatusOr<User> Find(int64_t id);

  // The wallet's TCC branch, inside the caller's transaction (behind its barrier):
  // Freeze holds `amount` (> 0) of the balance, FAILURE (dtx::FailureError) when less
  // is free or the user has no wallet; Take spends what Freeze held; Release gives it
  // back. Take and Release answer kInternal when less than `amount` is frozen, which
  // the barrier rules out (each runs only after its own try committed).
  static absl::Status Freeze(soci::session& tx, int64_t uid, int64_t amount);
  static absl::Status Take(soci::session& tx, int64_t uid, int64_t amount);
  static absl::Status Release(soci::session& tx, int64_t uid, int64_t amount);
  // Inside the caller's transaction: adds `points` (>= 0) to the user's wallet, which
  // is opened empty when missing.
  static absl::Status CreditPoints(soci::session& tx, int64_t uid, int64_t points);

 private:
  Database* db_;
};

}  // namespace mall

#endif  // MALL_USER_USERS_H_
