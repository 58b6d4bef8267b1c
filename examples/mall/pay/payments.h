// The pay service's domain: one payment per order in the pay database, with the TCC
// of its latest attempt. A payment goes paying -> paid, or paying -> failed, after
// which a new attempt may turn it paying again.
#ifndef MALL_PAY_PAYMENTS_H_
#define MALL_PAY_PAYMENTS_H_

#include <soci/soci.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/database.h"
#include "pay.pb.h"

namespace mall {

inline constexpr int64_t kPaymentPaying = 0;
inline constexpr int64_t kPaymentPaid = 1;
inline constexpr int64_t kPaymentFailed = 2;

inline constexpr Schema kPaySchema{
    "CREATE TABLE IF NOT EXISTS payment (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "oid BIGINT NOT NULL UNIQUE, uid BIGINT NOT NULL, amount BIGINT NOT NULL, "
    "gid VARCHAR(128) NOT NULL, status BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS payment (id BIGSERIAL PRIMARY KEY, "
    "oid BIGINT NOT NULL UNIQUE, uid BIGINT NOT NULL, amount BIGINT NOT NULL, "
    "gid VARCHAR(128) NOT NULL, status BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS payment (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
    "oid BIGINT NOT NULL UNIQUE, uid BIGINT NOT NULL, amount BIGINT NOT NULL, "
    "gid VARCHAR(128) NOT NULL, status BIGINT NOT NULL) ENGINE = InnoDB"};

class Payments {
 public:
  explicit Payments(Database* db) : db_(db) {}

  // The payment of order `oid`; kNotFound when there is none.
  absl::StatusOr<Payment> FindByOrder(int64_t oid);

  // Up to `limit` payments still paying, oldest first (a scan of the table: an index
  // on status would serve a large one).
  absl::StatusOr<std::vector<Payment>> ListPaying(int limit);

  // A new attempt at paying order `oid` under TCC `gid`: the order's payment, new or
  // failed before, becomes paying. kAlreadyExists when it is paying or paid (two
  // attempts racing: one wins).
  absl::StatusOr<Payment> Begin(int64_t oid, int64_t uid, int64_t amount,
                                const std::string& gid);
  // Attempt `gid` of order `oid` rolled back: paying -> failed. Changes nothing when
  // the payment is not paying under `gid`.
  absl::Status Fail(int64_t oid, const std::string& gid);
  // Inside the caller's transaction (the "paid" message's): paying -> paid for
  // attempt `gid`. FAILURE (dtx::FailureError) when the payment is not paying under
  // `gid`, so at most one message per payment ever commits.
  static absl::Status MarkPaid(soci::session& tx, int64_t oid, const std::string& gid);

 private:
  Database* db_;
};

}  // namespace mall

#endif  // MALL_PAY_PAYMENTS_H_
