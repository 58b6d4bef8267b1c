// The wallet alone, on a real SQLite file.
#include "user/users.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "dtx/result.h"
#include "test_util.h"

namespace mall {
namespace {

std::unique_ptr<Database> OpenDb() {
  auto db = Database::Open(dtx::testing::NewTempDir("users") + "/user.db", kUserSchema);
  REQUIRE(db.ok());
  return *std::move(db);
}

TEST_CASE("a wallet freezes only what is free, and takes or releases what it froze") {
  auto db = OpenDb();
  Users users(db.get());
  absl::StatusOr<User> u = users.Create("dan", "100", 1000);
  REQUIRE(u.ok());
  CHECK(u->balance() == 1000);
  auto run = [&](auto fn) {
    return db->Run([&](soci::session& tx) { return fn(tx, u->id()); });
  };
  auto freeze = [](int64_t a) {
    return [a](soci::session& tx, int64_t id) { return Users::Freeze(tx, id, a); };
  };
  auto take = [](int64_t a) {
    return [a](soci::session& tx, int64_t id) { return Users::Take(tx, id, a); };
  };
  auto release = [](int64_t a) {
    return [a](soci::session& tx, int64_t id) { return Users::Release(tx, id, a); };
  };
  REQUIRE(run(freeze(600)).ok());
  absl::Status refused = run(freeze(600));
  CHECK(dtx::IsFailure(refused));
  CHECK(refused.message() == "insufficient balance: 400 available, 600 wanted");
  CHECK(users.Find(u->id())->frozen() == 600);
  REQUIRE(run(take(600)).ok());
  CHECK(users.Find(u->id())->balance() == 400);
  CHECK(users.Find(u->id())->frozen() == 0);
  REQUIRE(run(freeze(300)).ok());
  REQUIRE(run(release(300)).ok());
  CHECK(users.Find(u->id())->frozen() == 0);
  CHECK(users.Find(u->id())->balance() == 400);
  // More than is frozen: refused, nothing changes.
  CHECK(absl::IsInternal(run(release(1))));
  CHECK(absl::IsInternal(run(take(1))));
  CHECK(dtx::IsFailure(run(freeze(0))));
  CHECK(dtx::IsFailure(
      db->Run([&](soci::session& tx) { return Users::Freeze(tx, 999, 1); })));
  CHECK(absl::IsInvalidArgument(users.Create("eve", "101", -1).status()));
  CHECK(absl::IsAlreadyExists(users.Create("eve", "100", 0).status()));
}

TEST_CASE("points are credited, to a wallet opened for them when missing") {
  auto db = OpenDb();
  Users users(db.get());
  absl::StatusOr<User> u = users.Create("fay", "200");
  REQUIRE(u.ok());
  for (int64_t points : {5, 0, 7}) {
    REQUIRE(db->Run([&](soci::session& tx) {
                return Users::CreditPoints(tx, u->id(), points);
              }).ok());
  }
  CHECK(users.Find(u->id())->points() == 12);
  REQUIRE(db->Run([&](soci::session& tx) {
              tx << "DELETE FROM wallet";
              return Users::CreditPoints(tx, u->id(), 3);
            }).ok());
  CHECK(users.Find(u->id())->points() == 3);
  CHECK(users.Find(u->id())->balance() == 0);
}

TEST_CASE("concurrent freezes never hold more than the balance") {
  auto db = OpenDb();
  Users users(db.get());
  absl::StatusOr<User> u = users.Create("gus", "300", 5);
  REQUIRE(u.ok());
  std::atomic<int> frozen{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 4; ++i) {
        absl::Status s =
            db->Run([&](soci::session& tx) { return Users::Freeze(tx, u->id(), 1); });
        (s.ok() ? frozen : dtx::IsFailure(s) ? refused : other)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(frozen == 5);
  CHECK(refused == 27);
  CHECK(other == 0);
  CHECK(users.Find(u->id())->frozen() == 5);
}

}  // namespace
}  // namespace mall
