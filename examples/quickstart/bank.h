// The quickstart's domain: a bank's accounts in its own SQLite database. Knows nothing
// of sagas; the handlers in main.cc put its operations behind a barrier.
#ifndef DTX_EXAMPLES_QUICKSTART_BANK_H_
#define DTX_EXAMPLES_QUICKSTART_BANK_H_

#include <soci/soci.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace quickstart {

class Bank {
 public:
  // Opens (creating if needed) the bank's database with the barrier table and one
  // account per id in [1, accounts] holding `opening_balance`.
  static absl::StatusOr<std::unique_ptr<Bank>> Open(const std::string& path, int accounts,
                                                    int opening_balance);

  // Adds `delta` to the account inside the caller's transaction `tx`. FAILURE
  // (dtx::FailureError) when the account does not exist, is frozen, or would go
  // negative: the business says no.
  static absl::Status Adjust(soci::session& tx, int account, int delta);

  absl::StatusOr<int> Balance(int account);
  absl::Status Freeze(int account);

  soci::connection_pool& pool() { return pool_; }

 private:
  explicit Bank(int pool_size) : pool_(pool_size) {}
  soci::connection_pool pool_;
};

}  // namespace quickstart

#endif  // DTX_EXAMPLES_QUICKSTART_BANK_H_
