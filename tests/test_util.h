// Helpers shared by the tests: scratch directories for real database files, a
// loopback listener, one transport call waited for, a condition waited for.
#ifndef DTX_TESTS_TEST_UTIL_H_
#define DTX_TESTS_TEST_UTIL_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "dtx/transport.h"

namespace dtx::testing {

// A new empty directory under $DTX_TEST_TMP (or the system temp directory), unique to
// this call; left behind for inspection.
std::string NewTempDir(const std::string& name);

// A TCP socket listening on 127.0.0.1 at a free port (written to *port). REQUIREs
// success. The caller closes it.
int ListenOnLoopback(int* port);

// Makes one call through `transport` and waits for its answer.
absl::Status CallAndWait(Transport& transport, const BranchRequest& request);

// Whether `done` holds within `limit`, asking every 100 ms.
bool Eventually(const std::function<bool()>& done,
                absl::Duration limit = absl::Seconds(30));

}  // namespace dtx::testing

#endif  // DTX_TESTS_TEST_UTIL_H_
