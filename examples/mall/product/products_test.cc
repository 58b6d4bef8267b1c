// The product domain alone, on a real SQLite file.
#include "product/products.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "dtx/result.h"
#include "test_util.h"

namespace mall {
namespace {

std::unique_ptr<Database> OpenDb() {
  auto db = Database::Open(dtx::testing::NewTempDir("products") + "/product.db",
                           kProductSchema);
  REQUIRE(db.ok());
  return *std::move(db);
}

Product Keyboard(int64_t stock) {
  Product p;
  p.set_name("keyboard");
  p.set_stock(stock);
  p.set_amount(4999);
  return p;
}

TEST_CASE("stock is taken only when there is enough, never below zero") {
  auto db = OpenDb();
  Products products(db.get());
  absl::StatusOr<Product> p = products.Create(Keyboard(5));
  REQUIRE(p.ok());
  std::atomic<int> taken{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        absl::Status s = db->Run(
            [&](soci::session& sql) { return Products::DecrStock(sql, p->id(), 1); });
        (s.ok() ? taken : refused)++;
        if (!s.ok()) CHECK(dtx::IsFailure(s));
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(taken == 5);
  CHECK(refused == 35);
  CHECK(products.Find(p->id())->stock() == 0);
}

TEST_CASE("taking more than there is, or from no product, is FAILURE") {
  auto db = OpenDb();
  Products products(db.get());
  absl::StatusOr<Product> p = products.Create(Keyboard(2));
  REQUIRE(p.ok());
  auto decr = [&](int64_t id, int64_t num) {
    return db->Run([&](soci::session& sql) { return Products::DecrStock(sql, id, num); });
  };
  CHECK(dtx::IsFailure(decr(p->id(), 3)));
  CHECK(dtx::IsFailure(decr(p->id(), 0)));
  CHECK(dtx::IsFailure(decr(999, 1)));
  CHECK(decr(p->id(), 2).ok());
  CHECK(db->Run([&](soci::session& sql) {
            return Products::IncrStock(sql, p->id(), 2);
          }).ok());
  CHECK(products.Find(p->id())->stock() == 2);
}

TEST_CASE("product input is checked") {
  auto db = OpenDb();
  Products products(db.get());
  CHECK(absl::IsInvalidArgument(products.Create(Keyboard(-1)).status()));
  Product nameless = Keyboard(1);
  nameless.set_name("");
  CHECK(absl::IsInvalidArgument(products.Create(nameless).status()));
  CHECK(absl::IsNotFound(products.Find(42).status()));
  CHECK(absl::IsInvalidArgument(products.SetStock(1, -5).status()));
}

}  // namespace
}  // namespace mall
