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

// A thread that would otherwise only wait for answers (a wait_result submit waiting
// for its first pass) offering to make calls itself: a transport whose calls block may
// run one there instead of handing it to a thread of its own and waiting for that
// thread's answer, which saves two context switches per call. It takes work only from
// its own thread (calls issued while it runs a pass's work: the next step of a saga)
// and one piece at a time; every other call goes the transport's usual way, so calls
// that can run in parallel still do.
class CallRunner {
 public:
  using Work = absl::AnyInvocable<void() &&>;
  virtual ~CallRunner() = default;
  // Whether Offer, made now on this thread, would take work.
  virtual bool Free() const = 0;
  // Takes `work`, which then runs on the runner's thread (true), or leaves it
  // untouched (false).
  virtual bool Offer(Work& work) = 0;
};

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
  // Not owned; may be null. A transport may offer it this call's work during Call.
  CallRunner* runner = nullptr;
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
