// dtx::LocalTransport: branches that are functions in this process. For tests,
// benchmarks and services that host their own branches; register it with the
// coordinator under a protocol name of your choice (e.g. "local") and use that as the
// saga's Protocol().
#ifndef DTX_LOCAL_TRANSPORT_H_
#define DTX_LOCAL_TRANSPORT_H_

#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "dtx/transport.h"

namespace dtx {

// Thread-safe. A handler runs on the calling thread, inside Call; an unknown URL
// answers kNotFound (an error: the coordinator retries it).
class LocalTransport : public Transport {
 public:
  using Handler = std::function<absl::Status(const BranchRequest&)>;

  // Registers `handler` for `url`, replacing any earlier one.
  void Handle(std::string url, Handler handler);

  void Call(const BranchRequest& request, Callback done) override;

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Handler> handlers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dtx

#endif  // DTX_LOCAL_TRANSPORT_H_
