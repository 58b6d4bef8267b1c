// dtx::Transport: how the coordinator calls a branch. HttpTransport (dtx::http) and,
// later, a gRPC transport implement it; LocalTransport calls functions in-process;
// TransportWrapper forwards every call so that a test can break one.
#ifndef DTX_TRANSPORT_H_
#define DTX_TRANSPORT_H_

#include <map>
#include <string>
#include <string_view>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

namespace dtx {

// One call of one branch op. Owned by the caller until the call completes.
struct BranchRequest {
  std::string url;
  std::string gid;
  std::string trans_type;
  std::string branch_id;
  std::string op;
  std::string payload;                         // empty: HTTP GET
  std::map<std::string, std::string> headers;  // branch_headers
  absl::Duration timeout = absl::Seconds(3);
};

// Implementations are thread-safe.
class Transport {
 public:
  // Receives the branch's answer in the result vocabulary (dtx/result.h): OK, kAborted
  // (FAILURE), kFailedPrecondition (ONGOING), or any other code for an error to retry.
  using Callback = absl::AnyInvocable<void(absl::Status) &&>;

  virtual ~Transport() = default;

  // Starts the call and returns; `done` runs exactly once, when the branch answered or
  // `request.timeout` passed, on any thread, possibly inside Call itself. `request`
  // is only read during Call (implementations copy what they keep).
  virtual void Call(const BranchRequest& request, Callback done) = 0;

  // Whether a branch at `url`, called with `headers` (branch_headers), is one this
  // transport can and may call: the coordinator asks at submit, for every URL of the
  // transaction, and refuses it (kInvalidArgument, nothing stored) unless OK. Call
  // applies the same rules, so that a row stored before them fails its call with a
  // clear error instead of reaching the wire. Default: OK.
  virtual absl::Status CheckBranch(
      std::string_view url, const std::map<std::string, std::string>& headers) const {
    return absl::OkStatus();
  }
};

// Forwards every call to `target` (not owned).
class TransportWrapper : public Transport {
 public:
  explicit TransportWrapper(Transport* target) : target_(target) {}
  void Call(const BranchRequest& request, Callback done) override {
    target_->Call(request, std::move(done));
  }
  absl::Status CheckBranch(
      std::string_view url,
      const std::map<std::string, std::string>& headers) const override {
    return target_->CheckBranch(url, headers);
  }

 protected:
  Transport* target() const { return target_; }

 private:
  Transport* target_;
};

}  // namespace dtx

#endif  // DTX_TRANSPORT_H_
