// A pool of idle keep-alive HTTP connections per origin, shared by threads.
#ifndef DTX_HTTP_CLIENT_POOL_H_
#define DTX_HTTP_CLIENT_POOL_H_

#include <httplib.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace dtx::internal {

// Idle keep-alive connections, shared by all threads: a call takes one for its origin
// (or opens a new one) and gives it back when the answer came, so there are only as
// many connections to a peer as calls in flight to it.
// Thread-safe. An httplib::Client serves one request at a time; this hands each
// caller one of its own.
class ClientPool {
 public:
  // `ca_file`: https servers are verified against the CAs of this PEM file instead of
  // the system's store (empty: the system's).
  explicit ClientPool(size_t max_idle_per_origin, std::string ca_file = "")
      : max_idle_(max_idle_per_origin), ca_file_(std::move(ca_file)) {}

  std::unique_ptr<httplib::Client> Take(const std::string& origin) {
    {
      absl::MutexLock lock(&mu_);
      auto it = idle_.find(origin);
      if (it != idle_.end() && !it->second.empty()) {
        std::unique_ptr<httplib::Client> client = std::move(it->second.back());
        it->second.pop_back();
        return client;
      }
    }
    auto client = std::make_unique<httplib::Client>(origin);
    client->set_keep_alive(true);
    client->set_tcp_nodelay(true);  // headers and body go out as separate writes
    // Verify https servers (cpp-httplib's default, stated): against ca_file, or the
    // system's CAs.
    client->enable_server_certificate_verification(true);
    if (!ca_file_.empty()) client->set_ca_cert_path(ca_file_);
    return client;
  }

  void Give(const std::string& origin, std::unique_ptr<httplib::Client> client) {
    absl::MutexLock lock(&mu_);
    std::vector<std::unique_ptr<httplib::Client>>& idle = idle_[origin];
    if (idle.size() < max_idle_) idle.push_back(std::move(client));
  }

 private:
  const size_t max_idle_;
  const std::string ca_file_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::vector<std::unique_ptr<httplib::Client>>> idle_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace dtx::internal

#endif  // DTX_HTTP_CLIENT_POOL_H_
