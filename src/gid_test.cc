#include "dtx/gid.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace dtx {
namespace {

TEST_CASE("gids are URL-safe, short and valid") {
  GidGenerator gen;
  for (int i = 0; i < 1000; ++i) {
    std::string gid = gen.Next();
    REQUIRE(gid.size() <= 64);
    REQUIRE(IsValidGid(gid));
    REQUIRE(gid.find_first_not_of("0123456789abcdefghijklmnopqrstuv-") ==
            std::string::npos);
  }
}

TEST_CASE("gids of one thread are in creation order") {
  GidGenerator gen;
  std::vector<std::string> gids;
  for (int i = 0; i < 100000; ++i) gids.push_back(gen.Next());
  CHECK(std::is_sorted(gids.begin(), gids.end()));
  CHECK(std::adjacent_find(gids.begin(), gids.end()) == gids.end());
}

TEST_CASE("gids are unique and ordered across threads of a process") {
  absl::Mutex mu;
  std::vector<std::vector<std::string>> per_thread(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      GidGenerator gen;  // separate instances share one sequence
      for (int i = 0; i < 20000; ++i) per_thread[t].push_back(gen.Next());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& gids : per_thread) {
    CHECK(std::is_sorted(gids.begin(), gids.end()));
    all.insert(gids.begin(), gids.end());
  }
  CHECK(all.size() == 8 * 20000);
}

TEST_CASE("a forked child does not repeat its parent's gids") {
  GidGenerator gen;
  std::string parent_gid = gen.Next();
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    std::string child_gid = gen.Next();
    (void)!write(fds[1], child_gid.data(), child_gid.size());
    _exit(0);
  }
  close(fds[1]);
  char buf[128];
  ssize_t n = read(fds[0], buf, sizeof(buf));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(n > 0);
  std::string child_gid(buf, n);
  std::string next_parent_gid = gen.Next();
  // The node part (after '-') differs, so the tick may repeat without a collision.
  CHECK(child_gid.substr(14) != parent_gid.substr(14));
  CHECK(child_gid != next_parent_gid);
}

TEST_CASE("IsValidGid") {
  CHECK(IsValidGid("abc-DEF_1.2~3:4"));
  CHECK_FALSE(IsValidGid(""));
  CHECK_FALSE(IsValidGid("has space"));
  CHECK_FALSE(IsValidGid("semi;colon"));
  CHECK_FALSE(IsValidGid("new\nline"));
  CHECK_FALSE(IsValidGid(std::string(129, 'a')));
  CHECK(IsValidGid(std::string(128, 'a')));
}

}  // namespace
}  // namespace dtx
