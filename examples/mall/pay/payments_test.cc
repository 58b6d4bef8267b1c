// Payments alone, on a real SQLite file.
#include "pay/payments.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "dtx/result.h"
#include "test_util.h"

namespace mall {
namespace {

std::unique_ptr<Database> OpenDb() {
  auto db = Database::Open(dtx::testing::NewTempDir("payments") + "/pay.db", kPaySchema);
  REQUIRE(db.ok());
  return *std::move(db);
}

TEST_CASE("one payment per order: paying, then paid or failed and tried again") {
  auto db = OpenDb();
  Payments payments(db.get());
  CHECK(absl::IsNotFound(payments.FindByOrder(7).status()));
  absl::StatusOr<Payment> p = payments.Begin(7, 3, 4999, "g1");
  REQUIRE(p.ok());
  CHECK(p->status() == kPaymentPaying);
  CHECK(p->gid() == "g1");
  REQUIRE(payments.Begin(8, 3, 50, "h1").ok());
  absl::StatusOr<std::vector<Payment>> paying = payments.ListPaying(10);
  REQUIRE(paying.ok());
  REQUIRE(paying->size() == 2);
  CHECK((*paying)[0].oid() == 7);
  CHECK((*paying)[1].gid() == "h1");
  CHECK(payments.ListPaying(1)->size() == 1);
  CHECK(absl::IsAlreadyExists(payments.Begin(7, 3, 4999, "g2").status()));
  auto mark_paid = [&](const std::string& gid) {
    return db->Run([&](soci::session& tx) { return Payments::MarkPaid(tx, 7, gid); });
  };
  // Another attempt's gid changes nothing.
  CHECK(dtx::IsFailure(mark_paid("g2")));
  REQUIRE(payments.Fail(7, "g2").ok());
  CHECK(payments.FindByOrder(7)->status() == kPaymentPaying);
  REQUIRE(payments.Fail(7, "g1").ok());
  CHECK(payments.FindByOrder(7)->status() == kPaymentFailed);
  CHECK(dtx::IsFailure(mark_paid("g1")));

  p = payments.Begin(7, 3, 4999, "g3");
  REQUIRE(p.ok());
  CHECK(p->gid() == "g3");
  CHECK(p->status() == kPaymentPaying);
  REQUIRE(mark_paid("g3").ok());
  CHECK(dtx::IsFailure(mark_paid("g3")));  // at most one "paid" transaction commits
  CHECK(payments.FindByOrder(7)->status() == kPaymentPaid);
  CHECK(absl::IsAlreadyExists(payments.Begin(7, 3, 4999, "g4").status()));
  REQUIRE(payments.Fail(7, "g3").ok());
  CHECK(payments.FindByOrder(7)->status() == kPaymentPaid);
  REQUIRE(payments.Fail(8, "h1").ok());
  CHECK(payments.ListPaying(10)->empty());
}

TEST_CASE("of attempts racing to pay one order, one begins") {
  auto db = OpenDb();
  Payments payments(db.get());
  std::atomic<int> began{0}, taken{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      absl::StatusOr<Payment> p = payments.Begin(9, 1, 100, "g" + std::to_string(t));
      (p.ok() ? began : absl::IsAlreadyExists(p.status()) ? taken : other)++;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(began == 1);
  CHECK(taken == 7);
  CHECK(other == 0);
}

}  // namespace
}  // namespace mall
