// Runs the conformance suite against the backend named by DTX_CONFORMANCE_BACKEND
// (sqlite, postgresql or mysql). A server backend needs its URL in
// DTX_TEST_POSTGRES_URL / DTX_TEST_MYSQL_URL (scripts/dtx.sh test starts the servers
// and sets them). Without one the run is skipped (exit 77), unless
// DTX_REQUIRE_ALL_BACKENDS=1, as in CI, where it fails.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "conformance.h"

int main(int argc, char** argv) {
  const std::string backend = dtx::testing::ConformanceBackend();
  if (dtx::testing::ConformanceUrl().empty()) {
    const char* required = std::getenv("DTX_REQUIRE_ALL_BACKENDS");
    if (required != nullptr && std::string(required) == "1") {
      std::fprintf(stderr, "conformance: no %s server to test against (URL not set)\n",
                   backend.c_str());
      return 1;
    }
    std::printf("conformance: %s skipped: no server URL set\n", backend.c_str());
    return 77;
  }
  std::printf("conformance: backend %s\n", backend.c_str());
  return Catch::Session().run(argc, argv);
}
