// Waiting on one socket with a deadline, for dtx's blocking HTTP paths (the server's
// connections, the blocking client, TLS).
#ifndef DTX_HTTP_WAIT_FOR_H_
#define DTX_HTTP_WAIT_FOR_H_

#include "absl/time/time.h"

namespace dtx::internal {

// Waits until `fd` is ready for `events` (poll's POLLIN / POLLOUT). False when
// `deadline` passes first, or poll fails (EINTR is waited through).
bool WaitFor(int fd, short events, absl::Time deadline);

}  // namespace dtx::internal

#endif  // DTX_HTTP_WAIT_FOR_H_
