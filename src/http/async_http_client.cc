#include "http/async_http_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <thread>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace dtx::internal {
namespace {

constexpr uint64_t kWakeId = 0;

std::string Errno(const char* what) {
  return absl::StrCat(what, ": ", std::strerror(errno));
}

}  // namespace

class AsyncHttpClient::Loop {
 public:
  Loop(size_t max_idle, Lookup lookup)
      : max_idle_(max_idle), resolver_(std::make_unique<Resolver>(std::move(lookup))) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeId;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &ev);
    thread_ = std::thread([this] { Run(); });
  }

  ~Loop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    Wake();
    thread_.join();
    // After the loop (which hands it lookups) and before wake_ closes (its answers
    // post here): no answer runs once this returns.
    resolver_.reset();
    close(wake_);
    close(epoll_);
  }

  void Send(ClientRequest request, Done done) {
    {
      absl::MutexLock lock(&mu_);
      if (!stopping_) {
        jobs_.push_back({std::move(request), std::move(done)});
        Wake();
        return;
      }
    }
    std::move(done)(absl::UnavailableError("HTTP client is closing"));
  }

 private:
  struct Job {
    ClientRequest request;
    Done done;
  };
  // One connection; while a request is on it, `done` holds its caller.
  struct Conn {
    uint64_t id = 0;
    int fd = -1;
    std::string origin;  // host:port: the key of the idle pool and of addresses_
    size_t address = 0;  // which of addresses_[origin] it connects to
    bool connected = false;
    bool reused = false;  // taken from the idle pool: a stale one gets one retry
    bool idle = false;
    std::string out;
    size_t sent = 0;
    std::string in;
    Parser parser;
    Done done;
    std::multimap<absl::Time, Conn*>::iterator timer;
    bool has_timer = false;
  };
  // A request waiting for its origin's name to resolve.
  struct Unresolved {
    std::string out;
    Done done;
    absl::Time deadline;
  };
  struct Resolved {
    std::string origin;
    absl::StatusOr<std::vector<SocketAddress>> found;
  };

  void Wake() {
    uint64_t one = 1;
    (void)!write(wake_, &one, sizeof(one));
  }

  void Run() {
    epoll_event events[128];
    while (true) {
      int timeout_ms = -1;
      if (!timers_.empty()) {
        const absl::Duration left = timers_.begin()->first - absl::Now();
        timeout_ms =
            static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(left) + 1));
      }
      // Requests waiting for a lookup time out within 100 ms of their deadline.
      if (!unresolved_.empty() && (timeout_ms < 0 || timeout_ms > 100)) timeout_ms = 100;
      const int n = epoll_wait(epoll_, events, 128, timeout_ms);
      for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == kWakeId) {
          uint64_t count;
          (void)!read(wake_, &count, sizeof(count));
          std::vector<Job> jobs;
          std::vector<Resolved> resolved;
          bool stopping;
          {
            absl::MutexLock lock(&mu_);
            stopping = stopping_;
            jobs.swap(jobs_);
            resolved.swap(resolved_);
          }
          if (stopping) {
            for (Job& job : jobs) {
              std::move(job.done)(absl::UnavailableError("HTTP client is closing"));
            }
            return Drain();
          }
          for (Resolved& r : resolved) OnResolved(r.origin, std::move(r.found));
          for (Job& job : jobs) Start(std::move(job));
          continue;
        }
        auto it = conns_.find(events[i].data.u64);
        if (it != conns_.end()) OnEvent(it->second.get(), events[i].events);
      }
      Expire();
    }
  }

  // Stopping: every caller still waiting hears it.
  void Drain() {
    std::vector<Done> waiting;
    for (auto& [id, conn] : conns_) {
      if (conn->done) waiting.push_back(std::move(conn->done));
      close(conn->fd);
    }
    conns_.clear();
    idle_.clear();
    timers_.clear();
    for (auto& [origin, waiting_lookup] : unresolved_) {
      for (Unresolved& u : waiting_lookup) waiting.push_back(std::move(u.done));
    }
    unresolved_.clear();
    {
      absl::MutexLock lock(&mu_);
      for (Job& job : jobs_) waiting.push_back(std::move(job.done));
      jobs_.clear();
    }
    for (Done& done : waiting) {
      std::move(done)(absl::UnavailableError("HTTP client is closing"));
    }
  }

  void Start(Job job) {
    ClientRequest& r = job.request;
    absl::StatusOr<std::string> out = EncodeRequest(r);
    if (!out.ok()) {
      std::move(job.done)(out.status());
      return;
    }
    const std::string origin = absl::StrCat(r.host, ":", r.port);
    const absl::Time deadline = absl::Now() + r.timeout;
    std::vector<Conn*>& idle = idle_[origin];
    if (!idle.empty()) {
      Conn* conn = idle.back();
      idle.pop_back();
      conn->idle = false;
      conn->reused = true;
      Begin(conn, *std::move(out), std::move(job.done), deadline);
      if (Flush(conn)) Read(conn);  // a peer that closed it meanwhile shows now
      return;
    }
    Open(origin, *std::move(out), std::move(job.done), deadline);
  }

  void Begin(Conn* conn, std::string out, Done done, absl::Time deadline) {
    conn->out = std::move(out);
    conn->sent = 0;
    conn->in.clear();
    conn->parser = Parser();
    conn->done = std::move(done);
    conn->timer = timers_.emplace(deadline, conn);
    conn->has_timer = true;
  }

  // Opens a new connection for a request to the `address`-th address of its origin;
  // answers `done` at once if it cannot.
  void Open(const std::string& origin, std::string out, Done done, absl::Time deadline,
            size_t address = 0) {
    auto known = addresses_.find(origin);
    if (known == addresses_.end()) {
      const size_t colon = origin.rfind(':');
      const std::string host = origin.substr(0, colon), port = origin.substr(colon + 1);
      std::optional<std::vector<SocketAddress>> numeric = NumericAddress(host, port);
      if (!numeric) {  // a name: looked up on the resolver's thread, never here
        auto [waiting, first] = unresolved_.try_emplace(origin);
        waiting->second.push_back({std::move(out), std::move(done), deadline});
        if (first) {
          resolver_->Resolve(
              host, port, [this, origin](absl::StatusOr<std::vector<SocketAddress>> f) {
                absl::MutexLock lock(&mu_);
                resolved_.push_back({origin, std::move(f)});
                Wake();
              });
        }
        return;
      }
      known = addresses_.emplace(origin, *std::move(numeric)).first;
    }
    const SocketAddress& a = known->second[address];
    const int fd =
        socket(a.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      std::move(done)(absl::UnavailableError(Errno("socket")));
      return;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto owned = std::make_unique<Conn>();
    Conn* conn = owned.get();
    conn->id = ++last_id_;
    conn->fd = fd;
    conn->origin = origin;
    conn->address = address;
    conns_.emplace(conn->id, std::move(owned));
    Begin(conn, std::move(out), std::move(done), deadline);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = conn->id;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      return Finish(conn, absl::UnavailableError(Errno("epoll_ctl")));
    }
    if (connect(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len) == 0) {
      conn->connected = true;
      Flush(conn);
    } else if (errno != EINPROGRESS) {
      NotConnected(conn, Errno("connect"));
    }
  }

  // A connection could not be made: the request goes to the origin's next address
  // (a name may resolve to ::1 and 127.0.0.1, a server listen on one only), or fails.
  void NotConnected(Conn* conn, const std::string& message) {
    const size_t next = conn->address + 1;
    if (next >= addresses_[conn->origin].size() || !conn->has_timer) {
      return Finish(conn, absl::UnavailableError(message));
    }
    const std::string origin = conn->origin;
    const absl::Time deadline = conn->timer->first;
    std::string out = std::move(conn->out);
    Done done = std::move(conn->done);
    Close(conn);
    Open(origin, std::move(out), std::move(done), deadline, next);
  }

  void OnEvent(Conn* conn, uint32_t events) {
    if (conn->idle) {
      // The peer closed it, or sent what nobody asked for. (EPOLLOUT alone comes when
      // the peer acknowledges bytes sent earlier: nothing wrong.)
      if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) Close(conn);
      return;
    }
    if (!conn->connected) {
      if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
      int error = 0;
      socklen_t len = sizeof(error);
      getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &error, &len);
      if (error != 0)
        return NotConnected(conn, absl::StrCat("connect: ", std::strerror(error)));
      conn->connected = true;
    }
    if (Flush(conn)) Read(conn);
  }

  // Sends what is left of the request. False when the connection is gone.
  bool Flush(Conn* conn) {
    while (conn->sent < conn->out.size()) {
      const ssize_t n = send(conn->fd, conn->out.data() + conn->sent,
                             conn->out.size() - conn->sent, MSG_NOSIGNAL);
      if (n > 0) {
        conn->sent += n;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return true;
      } else {
        Broken(conn, Errno("send"));
        return false;
      }
    }
    // Sent whole: only a reused connection may need it again (its one retry).
    if (!conn->reused && !conn->out.empty()) {
      std::string().swap(conn->out);
      conn->sent = 0;
    }
    return true;
  }

  void Read(Conn* conn) {
    bool eof = false;
    std::string failure;
    char buffer[16384];
    while (true) {
      const ssize_t n = recv(conn->fd, buffer, sizeof(buffer), 0);
      if (n > 0) {
        conn->in.append(buffer, n);
        if (conn->in.size() > kMaxHead + kMaxBody) break;  // the parse refuses it
      } else if (n == 0) {
        eof = true;
        break;
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      } else {
        eof = true;
        failure = Errno("recv");
        break;
      }
    }
    if (conn->in.empty() && !eof) return;
    std::string error;
    switch (ParseResponse(conn->in, conn->parser, eof, &error)) {
      case Parsed::kMore:
        return;
      case Parsed::kDone:
        return Complete(conn, /*reusable=*/!eof);
      case Parsed::kError:
        return Broken(conn, failure.empty() ? error : failure);
    }
  }

  // The connection failed. A reused one that had not answered may have been closed by
  // the peer while idle: the request goes again, once, on a new connection.
  void Broken(Conn* conn, const std::string& message) {
    if (conn->reused && conn->in.empty() && conn->has_timer) {
      const std::string origin = conn->origin;
      const absl::Time deadline = conn->timer->first;
      std::string out = std::move(conn->out);
      Done done = std::move(conn->done);
      Close(conn);
      Open(origin, std::move(out), std::move(done), deadline);
      return;
    }
    Finish(conn, absl::UnavailableError(message));
  }

  // `reusable`: the peer has not closed the connection.
  void Complete(Conn* conn, bool reusable) {
    ClientResponse response{conn->parser.status, std::move(conn->parser.body)};
    Done done = std::move(conn->done);
    Untime(conn);
    std::vector<Conn*>& idle = idle_[conn->origin];
    // Kept for the next request only if this one was sent whole and answered exactly.
    if (reusable && !conn->parser.close && conn->parser.pos == conn->in.size() &&
        conn->sent == conn->out.size() && idle.size() < max_idle_) {
      conn->idle = true;
      conn->reused = false;
      conn->out.clear();
      conn->in.clear();
      idle.push_back(conn);
    } else {
      Close(conn);
    }
    std::move(done)(std::move(response));
  }

  // Ends the connection and answers its caller with `status`.
  void Finish(Conn* conn, absl::Status status) {
    Done done = std::move(conn->done);
    Close(conn);
    if (done) std::move(done)(std::move(status));
  }

  void Untime(Conn* conn) {
    if (conn->has_timer) timers_.erase(conn->timer);
    conn->has_timer = false;
  }

  void Close(Conn* conn) {
    Untime(conn);
    if (conn->idle) {
      std::vector<Conn*>& idle = idle_[conn->origin];
      idle.erase(std::remove(idle.begin(), idle.end(), conn), idle.end());
    }
    close(conn->fd);  // also leaves the epoll set
    conns_.erase(conn->id);
  }

  // A lookup came back: the requests waiting for it go on, or fail with it. The
  // addresses are kept for the client's life; a failure is not (the next request for
  // the origin looks it up again).
  void OnResolved(const std::string& origin,
                  absl::StatusOr<std::vector<SocketAddress>> found) {
    auto it = unresolved_.find(origin);
    if (it == unresolved_.end()) return;
    std::vector<Unresolved> waiting = std::move(it->second);
    unresolved_.erase(it);
    if (found.ok() && found->empty()) {
      found = absl::UnavailableError("no address for " + origin);
    }
    if (found.ok()) addresses_[origin] = *std::move(found);
    for (Unresolved& u : waiting) {
      if (!found.ok()) {
        std::move(u.done)(found.status());
      } else {
        Open(origin, std::move(u.out), std::move(u.done), u.deadline);
      }
    }
  }

  void Expire() {
    const absl::Time now = absl::Now();
    while (!timers_.empty() && timers_.begin()->first <= now) {
      Finish(timers_.begin()->second, absl::UnavailableError("timed out"));
    }
    for (auto& [origin, waiting] : unresolved_) {
      auto late =
          std::stable_partition(waiting.begin(), waiting.end(),
                                [now](const Unresolved& u) { return u.deadline > now; });
      std::vector<Done> expired;
      for (auto i = late; i != waiting.end(); ++i) expired.push_back(std::move(i->done));
      waiting.erase(late, waiting.end());  // the lookup stays in flight: its entry too
      for (Done& done : expired) {
        std::move(done)(absl::UnavailableError(
            absl::StrCat("timed out resolving ", origin.substr(0, origin.rfind(':')))));
      }
    }
  }

  const size_t max_idle_;
  int epoll_ = -1;
  int wake_ = -1;

  std::unique_ptr<Resolver> resolver_;

  absl::Mutex mu_;
  std::vector<Job> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<Resolved> resolved_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  // The loop thread's own.
  uint64_t last_id_ = kWakeId;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::unordered_map<std::string, std::vector<Conn*>> idle_;
  std::unordered_map<std::string, std::vector<SocketAddress>> addresses_;
  // Origins being looked up, with the requests waiting for them.
  std::unordered_map<std::string, std::vector<Unresolved>> unresolved_;
  std::multimap<absl::Time, Conn*> timers_;

  std::thread thread_;
};

AsyncHttpClient::AsyncHttpClient(size_t max_idle_per_origin, Lookup lookup)
    : loop_(std::make_unique<Loop>(max_idle_per_origin, std::move(lookup))) {}

AsyncHttpClient::~AsyncHttpClient() = default;

void AsyncHttpClient::Send(ClientRequest request, Done done) {
  loop_->Send(std::move(request), std::move(done));
}

}  // namespace dtx::internal
