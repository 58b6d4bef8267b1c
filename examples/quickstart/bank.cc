#include "bank.h"

#include <soci/sqlite3/soci-sqlite3.h>

#include "dtx/result.h"
#include "dtx/soci/barrier.h"

namespace quickstart {

constexpr int kPoolSize = 4;

absl::StatusOr<std::unique_ptr<Bank>> Bank::Open(const std::string& path, int accounts,
                                                 int opening_balance) {
  std::unique_ptr<Bank> bank(new Bank(kPoolSize));
  try {
    for (int i = 0; i < kPoolSize; ++i) {
      soci::session& sql = bank->pool_.at(i);
      sql.open(soci::sqlite3, "db=" + path + " timeout=30");
      sql << "PRAGMA journal_mode=WAL";
    }
    soci::session sql(bank->pool_);
    sql << "CREATE TABLE IF NOT EXISTS account (id INTEGER PRIMARY KEY, "
           "balance INTEGER NOT NULL CHECK (balance >= 0), frozen INTEGER NOT NULL "
           "DEFAULT 0)";
    for (int id = 1; id <= accounts; ++id) {
      sql << "INSERT OR IGNORE INTO account (id, balance) VALUES (:id, :b)",
          soci::use(id), soci::use(opening_balance);
    }
    if (absl::Status s = dtx::Barrier::CreateTable(sql); !s.ok()) return s;
  } catch (const std::exception& e) {
    return absl::UnavailableError(std::string("opening ") + path + ": " + e.what());
  }
  return bank;
}

absl::Status Bank::Adjust(soci::session& tx, int account, int delta) {
  int frozen = 0;
  soci::indicator found = soci::i_null;
  tx << "SELECT frozen FROM account WHERE id = :id", soci::use(account),
      soci::into(frozen, found);
  if (!tx.got_data()) return dtx::FailureError("no account " + std::to_string(account));
  if (frozen != 0)
    return dtx::FailureError("account " + std::to_string(account) + " is frozen");
  // One conditional statement: the balance never goes negative, even under concurrency.
  soci::statement update = (tx.prepare << "UPDATE account SET balance = balance + :d "
                                          "WHERE id = :id AND balance + :d2 >= 0",
                            soci::use(delta), soci::use(account), soci::use(delta));
  update.execute(true);
  if (update.get_affected_rows() != 1) return dtx::FailureError("insufficient balance");
  return absl::OkStatus();
}

absl::StatusOr<int> Bank::Balance(int account) {
  try {
    soci::session sql(pool_);
    int balance = 0;
    sql << "SELECT balance FROM account WHERE id = :id", soci::use(account),
        soci::into(balance);
    if (!sql.got_data())
      return absl::NotFoundError("no account " + std::to_string(account));
    return balance;
  } catch (const std::exception& e) {
    return absl::UnavailableError(e.what());
  }
}

absl::Status Bank::Freeze(int account) {
  try {
    soci::session sql(pool_);
    sql << "UPDATE account SET frozen = 1 WHERE id = :id", soci::use(account);
  } catch (const std::exception& e) {
    return absl::UnavailableError(e.what());
  }
  return absl::OkStatus();
}

}  // namespace quickstart
