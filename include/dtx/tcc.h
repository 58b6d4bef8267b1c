// dtx::Tcc: a TCC global transaction, driven by its client (PROTOCOL.md, "TCC,
// 2-phase messages"). The client prepares it, registers each branch and calls its try
// itself; the coordinator then runs every confirm (all tries succeeded) or every
// cancel (one failed), from the last branch to the first, retrying until they succeed.
//
//   dtx::Tcc tcc(&submitter, &http_transport, dtx::GidGenerator().Next());
//   absl::Status s = tcc.Run([&](dtx::Tcc& t) -> absl::Status {
//     if (absl::Status a = t.CallBranch(R"({"amount":30})", out + "/TransOutTry",
//                                       out + "/TransOutConfirm", out + "/TransOutCancel");
//         !a.ok()) {
//       return a;  // aborts: the cancels run
//     }
//     return t.CallBranch(R"({"amount":30})", in + "/TransInTry", in + "/TransInConfirm",
//                         in + "/TransInCancel");
//   });
//
// Works against the embedded Coordinator, dtxd or a DTM server (any Submitter that
// implements Prepare, RegisterBranch and Abort). A branch's barrier handles try,
// confirm and cancel (cancel compensates try). Not thread-safe: one thread runs it.
#ifndef DTX_TCC_H_
#define DTX_TCC_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "dtx/submitter.h"
#include "dtx/transaction.h"
#include "dtx/transport.h"

namespace dtx {

class Tcc {
 public:
  // `submitter` and `transport` (which calls the tries) are not owned and must
  // outlive Run().
  Tcc(Submitter* submitter, Transport* transport, std::string gid);

  // The protocol of the confirm and cancel URLs, as the coordinator calls them:
  // "http" (default), "grpc", or a name the coordinator has a transport for.
  Tcc& Protocol(std::string protocol);
  // Still prepared this long after Run began, the coordinator rolls it back.
  // Default: zero, the coordinator's (35 s).
  Tcc& TimeoutToFail(absl::Duration d);
  // Of every call: the tries here, the confirms and cancels at the coordinator.
  Tcc& RequestTimeout(absl::Duration d);
  Tcc& RetryInterval(absl::Duration d);
  Tcc& BranchHeader(std::string name, std::string value);
  // The W3C trace context to run under (TransOptions::traceparent): the branches'
  // calls carry it, so their work joins the caller's trace.
  Tcc& Traceparent(std::string traceparent, std::string tracestate = "");
  // Run returns once the confirms (or cancels) have run, with their outcome.
  Tcc& WaitResult(bool wait);

  const std::string& gid() const { return global_.gid; }

  // Prepares the transaction, runs `body`, then submits it when `body` returns OK and
  // aborts it otherwise. Returns
  //  - what `body` returned when it was not OK (the transaction was aborted; should
  //    the abort fail, its error is appended to the message: the coordinator rolls
  //    the transaction back at its timeout anyway);
  //  - else what the submit answered (Submitter::Submit).
  // A failed prepare is returned as it is, and `body` does not run.
  absl::Status Run(const std::function<absl::Status(Tcc&)>& body);

  // Inside Run: registers the next branch (ids "01", "02", ..) with its confirm and
  // cancel URLs and `payload` as their body, then calls `try_url` with `payload`
  // (op "try") through the transport, and returns the try's answer in the result
  // vocabulary (OK, FAILURE, ONGOING or an error). A failed registration is returned
  // and the try is not called.
  absl::Status CallBranch(std::string payload, std::string try_url,
                          std::string confirm_url, std::string cancel_url);

 private:
  Submitter* submitter_;
  Transport* transport_;
  TransGlobal global_;
  int branches_ = 0;
};

}  // namespace dtx

#endif  // DTX_TCC_H_
