#include "dtx/local_transport.h"

namespace dtx {

void LocalTransport::Handle(std::string url, Handler handler) {
  absl::MutexLock lock(&mu_);
  handlers_[std::move(url)] = std::move(handler);
}

void LocalTransport::Call(const BranchRequest& request, Callback done) {
  Handler handler;
  {
    absl::MutexLock lock(&mu_);
    auto it = handlers_.find(request.url);
    if (it != handlers_.end()) handler = it->second;
  }
  if (!handler) {
    std::move(done)(absl::NotFoundError("no local handler for '" + request.url + "'"));
    return;
  }
  std::move(done)(handler(request));
}

}  // namespace dtx
