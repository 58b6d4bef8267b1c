#include "test_util.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>

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

}  // namespace dtx::testing
