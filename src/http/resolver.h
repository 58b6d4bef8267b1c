// Host name lookups off an event loop's thread: getaddrinfo blocks for as long as DNS
// takes (seconds when a server does not answer), and on AsyncHttpClient's loop that
// would stall every call in flight.
#ifndef DTX_HTTP_RESOLVER_H_
#define DTX_HTTP_RESOLVER_H_

#include <sys/socket.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"

namespace dtx::internal {

struct SocketAddress {
  sockaddr_storage addr;
  socklen_t len;
};

// host, port -> the addresses to try, in order; kUnavailable when the host does not
// resolve. May block.
using Lookup = std::function<absl::StatusOr<std::vector<SocketAddress>>(
    const std::string& host, const std::string& port)>;

// getaddrinfo for a TCP stream (IPv4 and IPv6).
absl::StatusOr<std::vector<SocketAddress>> SystemLookup(const std::string& host,
                                                        const std::string& port);

// The addresses of `host` when it is an IP address literal, found without any lookup;
// nullopt for a name.
std::optional<std::vector<SocketAddress>> NumericAddress(const std::string& host,
                                                         const std::string& port);

// Runs lookups on threads of its own, up to kMaxLookups at once (a thread lives while
// lookups are queued), so one name that stalls does not hold up the others while
// fewer than kMaxLookups stall. Thread-safe. Destroying it does not wait for lookups
// in progress (their threads finish them alone and drop the answers); no answer runs
// after the destructor returned.
class Resolver {
 public:
  static constexpr int kMaxLookups = 4;

  using Answer = absl::AnyInvocable<void(absl::StatusOr<std::vector<SocketAddress>>) &&>;

  explicit Resolver(Lookup lookup = SystemLookup);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Looks host:port up and calls `answer` with the result on the resolver's thread;
  // `answer` must not block. Never called once the resolver is destroyed.
  void Resolve(std::string host, std::string port, Answer answer);

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace dtx::internal

#endif  // DTX_HTTP_RESOLVER_H_
