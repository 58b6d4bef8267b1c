// The order domain alone, on a real SQLite file.
#include "order/orders.h"

#include <catch2/catch.hpp>

#include "dtx/result.h"
#include "test_util.h"

namespace mall {
namespace {

std::unique_ptr<Database> OpenDb() {
  auto db =
      Database::Open(dtx::testing::NewTempDir("orders") + "/order.db", kOrderSchema);
  REQUIRE(db.ok());
  return *std::move(db);
}

// An order of user 7 for `num` of product 3, 100 cents.
OrderCreateRequest Request(int64_t num) {
  OrderCreateRequest r;
  r.set_uid(7);
  r.set_pid(3);
  r.set_amount(100);
  r.set_num(num);
  return r;
}

TEST_CASE("an order is found, and invalidated, by the gid of its saga") {
  auto opened = OpenDb();
  Database& db = *opened;
  Orders orders(&db);
  OrderCreateRequest r = Request(2);
  REQUIRE(db.Run([&](soci::session& tx) { return Orders::Create(tx, "gid-a", r); }).ok());
  REQUIRE(db.Run([&](soci::session& tx) { return Orders::Create(tx, "gid-b", r); }).ok());
  // The user's latest order is gid-b; reverting gid-a must touch gid-a only.
  REQUIRE(
      db.Run([&](soci::session& tx) { return Orders::Invalidate(tx, "gid-a"); }).ok());
  CHECK(orders.FindByGid("gid-a")->status() == kOrderInvalid);
  CHECK(orders.FindByGid("gid-b")->status() == kOrderCreated);
  // Nothing to invalidate is fine (CreateRevert after a Create that never ran).
  CHECK(
      db.Run([&](soci::session& tx) { return Orders::Invalidate(tx, "gid-none"); }).ok());
  CHECK(absl::IsNotFound(orders.FindByGid("gid-none").status()));
  absl::StatusOr<std::vector<Order>> list = orders.ListByUser(7);
  REQUIRE(list.ok());
  CHECK(list->size() == 2);
  CHECK(orders.FindById((*list)[1].id())->gid() == "gid-b");
  r.set_num(0);
  CHECK(dtx::IsFailure(
      db.Run([&](soci::session& tx) { return Orders::Create(tx, "gid-c", r); })));
}

TEST_CASE("an order is paid only from created, by its user for its amount") {
  auto opened = OpenDb();
  Database& db = *opened;
  Orders orders(&db);
  const OrderCreateRequest r = Request(1);
  REQUIRE(db.Run([&](soci::session& tx) { return Orders::Create(tx, "gid-p", r); }).ok());
  const int64_t id = orders.FindByGid("gid-p")->id();
  auto run = [&](auto fn) { return db.Run([&](soci::session& tx) { return fn(tx); }); };
  auto start = [&](int64_t uid, int64_t amount) {
    OrderPayRequest pay;
    pay.set_id(id);
    pay.set_uid(uid);
    pay.set_amount(amount);
    return run([&](soci::session& tx) { return Orders::StartPaying(tx, pay); });
  };
  CHECK(dtx::IsFailure(start(8, 100)));
  CHECK(dtx::IsFailure(start(7, 99)));
  REQUIRE(start(7, 100).ok());
  CHECK(orders.FindById(id)->status() == kOrderPaying);
  CHECK(dtx::IsFailure(start(7, 100)));  // a second payment waits for the first
  REQUIRE(run([&](soci::session& tx) { return Orders::StopPaying(tx, id); }).ok());
  CHECK(orders.FindById(id)->status() == kOrderCreated);
  REQUIRE(start(7, 100).ok());
  REQUIRE(run([&](soci::session& tx) { return Orders::FinishPaying(tx, id); }).ok());
  CHECK(orders.FindById(id)->status() == kOrderPaid);
  // A late cancel of an earlier attempt leaves a paid order paid.
  REQUIRE(run([&](soci::session& tx) { return Orders::StopPaying(tx, id); }).ok());
  CHECK(orders.FindById(id)->status() == kOrderPaid);
  CHECK(dtx::IsFailure(start(7, 100)));
}

}  // namespace
}  // namespace mall
