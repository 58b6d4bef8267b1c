#include "test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

namespace dtx::testing {

std::string NewTempDir(const std::string& name) {
  static std::atomic<int> counter{0};
  const char* root = std::getenv("DTX_TEST_TMP");
  std::filesystem::path base = root != nullptr ? std::filesystem::path(root)
                                               : std::filesystem::temp_directory_path();
  std::filesystem::path dir =
      base / (name + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

int ListenOnLoopback(int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  *port = ntohs(address.sin_port);
  REQUIRE(listen(fd, 64) == 0);
  return fd;
}

absl::Status CallAndWait(Transport& transport, const BranchRequest& request) {
  absl::Notification done;
  absl::Status result;
  transport.Call(request, [&](absl::Status s) {
    result = std::move(s);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

bool Eventually(const std::function<bool()>& done, absl::Duration limit) {
  const absl::Time deadline = absl::Now() + limit;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return true;
}

}  // namespace dtx::testing
