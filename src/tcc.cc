#include "dtx/tcc.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "dtx/tracing.h"

namespace dtx {

Tcc::Tcc(Submitter* submitter, Transport* transport, std::string gid)
    : submitter_(submitter), transport_(transport) {
  global_.gid = std::move(gid);
  global_.trans_type = std::string(kTransTypeTcc);
}

Tcc& Tcc::Protocol(std::string protocol) {
  global_.protocol = std::move(protocol);
  return *this;
}
Tcc& Tcc::TimeoutToFail(absl::Duration d) {
  global_.options.timeout_to_fail = d;
  return *this;
}
Tcc& Tcc::RequestTimeout(absl::Duration d) {
  global_.options.request_timeout = d;
  return *this;
}
Tcc& Tcc::RetryInterval(absl::Duration d) {
  global_.options.retry_interval = d;
  return *this;
}
Tcc& Tcc::BranchHeader(std::string name, std::string value) {
  global_.options.branch_headers[std::move(name)] = std::move(value);
  return *this;
}

Tcc& Tcc::Traceparent(std::string traceparent, std::string tracestate) {
  global_.options.traceparent = std::move(traceparent);
  global_.options.tracestate = std::move(tracestate);
  return *this;
}
Tcc& Tcc::WaitResult(bool wait) {
  global_.options.wait_result = wait;
  return *this;
}

absl::Status Tcc::Run(const std::function<absl::Status(Tcc&)>& body) {
  branches_ = 0;
  if (absl::Status s = submitter_->Prepare(global_); !s.ok()) return s;
  absl::Status result = body(*this);
  if (result.ok()) return submitter_->Submit(global_);
  TransGlobal abort = global_;
  abort.rollback_reason = std::string(result.message());
  if (absl::Status s = submitter_->Abort(abort); !s.ok()) {
    return absl::Status(result.code(),
                        absl::StrCat(result.message(), "; and the abort failed: ",
                                     s.ToString()));
  }
  return result;
}

absl::Status Tcc::CallBranch(std::string payload, std::string try_url,
                             std::string confirm_url, std::string cancel_url) {
  TccBranch branch;
  branch.gid = global_.gid;
  branch.branch_id = absl::StrFormat("%02d", ++branches_);
  branch.data = payload;
  branch.confirm = std::move(confirm_url);
  branch.cancel = std::move(cancel_url);
  if (absl::Status s = submitter_->RegisterBranch(branch); !s.ok()) return s;

  BranchRequest request;
  request.url = std::move(try_url);
  request.gid = global_.gid;
  request.trans_type = global_.trans_type;
  request.branch_id = branch.branch_id;
  request.op = std::string(kOpTry);
  request.payload = std::move(payload);
  request.headers = global_.options.branch_headers;
  if (IsValidTraceparent(global_.options.traceparent)) {  // as the coordinator's calls
    request.headers["traceparent"] = global_.options.traceparent;
    if (!global_.options.tracestate.empty()) {
      request.headers["tracestate"] = global_.options.tracestate;
    }
  }
  if (global_.options.request_timeout > absl::ZeroDuration()) {
    request.timeout = global_.options.request_timeout;
  }
  absl::Notification answered;
  absl::Status answer;
  transport_->Call(request, [&](absl::Status s) {
    answer = std::move(s);
    answered.Notify();
  });
  answered.WaitForNotification();
  return answer;
}

}  // namespace dtx
