#include "internal/call_limiter.h"

#include <catch2/catch.hpp>
#include <vector>

namespace dtx::internal {
namespace {

TEST_CASE("CallLimiter runs at most `limit` calls, the rest in order as calls end") {
  CallLimiter limiter(2);
  std::vector<int> started;
  for (int i = 0; i < 5; ++i) limiter.Run([&, i] { started.push_back(i); });
  CHECK(started == std::vector<int>{0, 1});
  CHECK(limiter.running() == 2);
  CHECK(limiter.waiting() == 3);
  limiter.Done();
  CHECK(started == std::vector<int>{0, 1, 2});
  limiter.Done();
  limiter.Done();
  CHECK(started == std::vector<int>{0, 1, 2, 3, 4});
  CHECK(limiter.running() == 2);
  limiter.Done();
  limiter.Done();
  CHECK(limiter.running() == 0);
  CHECK(limiter.waiting() == 0);
}

TEST_CASE("CallLimiter: calls that end inside their start do not nest") {
  // 200,000 waiting calls that each end at once: run one after another on the thread
  // of the Done() that freed the first slot, not 200,000 frames deep.
  CallLimiter limiter(1);
  int runs = 0;
  bool blocked = true;
  limiter.Run([&] { ++runs; });  // holds the one slot
  for (int i = 0; i < 200000; ++i) {
    limiter.Run([&] {
      ++runs;
      if (!blocked) limiter.Done();
    });
  }
  CHECK(runs == 1);
  blocked = false;
  limiter.Done();
  CHECK(runs == 200001);
  CHECK(limiter.waiting() == 0);
}

TEST_CASE("CallLimiter without a limit runs everything at once") {
  CallLimiter limiter(0);
  int runs = 0;
  for (int i = 0; i < 10; ++i) limiter.Run([&] { ++runs; });
  CHECK(runs == 10);
  CHECK_FALSE(limiter.limited());
}

}  // namespace
}  // namespace dtx::internal
