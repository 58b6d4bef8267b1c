#include "http/resolver.h"

#include <netdb.h>

#include <cstring>
#include <deque>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace dtx::internal {
namespace {

absl::StatusOr<std::vector<SocketAddress>> GetAddrInfo(const std::string& host,
                                                       const std::string& port,
                                                       int flags) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | flags;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", host, ": ", gai_strerror(rc)));
  }
  std::vector<SocketAddress> all;  // in the resolver's order
  for (addrinfo* i = found; i != nullptr; i = i->ai_next) {
    SocketAddress a{};
    std::memcpy(&a.addr, i->ai_addr, i->ai_addrlen);
    a.len = i->ai_addrlen;
    all.push_back(a);
  }
  freeaddrinfo(found);
  return all;
}

}  // namespace

absl::StatusOr<std::vector<SocketAddress>> SystemLookup(const std::string& host,
                                                        const std::string& port) {
  return GetAddrInfo(host, port, 0);
}

std::optional<std::vector<SocketAddress>> NumericAddress(const std::string& host,
                                                         const std::string& port) {
  absl::StatusOr<std::vector<SocketAddress>> found =
      GetAddrInfo(host, port, AI_NUMERICHOST);
  if (!found.ok()) return std::nullopt;
  return *std::move(found);
}

// Shared by the resolver and its threads, which may outlive it.
struct Resolver::State {
  struct Request {
    std::string host, port;
    Answer answer;
  };

  explicit State(Lookup l) : lookup(std::move(l)) {}

  // A lookup thread: runs queued lookups until none is left.
  void Work() {
    while (true) {
      Request next;
      {
        absl::MutexLock lock(&mu);
        if (closed || queue.empty()) {
          --threads;
          return;
        }
        next = std::move(queue.front());
        queue.pop_front();
      }
      absl::StatusOr<std::vector<SocketAddress>> found = lookup(next.host, next.port);
      // Answered under the lock, so that ~Resolver, which takes it, waits for an answer
      // being delivered and none starts after it.
      absl::MutexLock lock(&mu);
      if (!closed) std::move(next.answer)(std::move(found));
    }
  }

  const Lookup lookup;
  absl::Mutex mu;
  std::deque<Request> queue ABSL_GUARDED_BY(mu);
  int threads ABSL_GUARDED_BY(mu) = 0;
  bool closed ABSL_GUARDED_BY(mu) = false;
};

Resolver::Resolver(Lookup lookup) : state_(std::make_shared<State>(std::move(lookup))) {}

Resolver::~Resolver() {
  absl::MutexLock lock(&state_->mu);
  state_->closed = true;
  state_->queue.clear();
}

void Resolver::Resolve(std::string host, std::string port, Answer answer) {
  absl::MutexLock lock(&state_->mu);
  state_->queue.push_back({std::move(host), std::move(port), std::move(answer)});
  if (state_->threads < kMaxLookups) {
    try {
      std::thread([state = state_] { state->Work(); }).detach();
      ++state_->threads;
    } catch (const std::system_error&) {
      // No thread to be had: the lookup waits for a running one, or its caller's
      // deadline.
    }
  }
}

}  // namespace dtx::internal
