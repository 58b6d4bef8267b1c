// dtx::Msg: a 2-phase message, the transactional outbox (PROTOCOL.md, "TCC, 2-phase
// messages"). Its actions are delivered, each retried until it succeeds, once the
// message is submitted; a message prepared and then neither submitted nor aborted in
// time is settled by the coordinator asking its query_prepared URL whether the local
// transaction committed (Barrier::QueryPrepared answers that).
//
//   dtx::Msg msg(&submitter, dtx::GidGenerator().Next());
//   msg.Add(points + "/Credit", R"({"user":1,"points":30})");
//   // prepare; the local transaction with its barrier row; submit:
//   absl::Status s = dtx::DoAndSubmit(msg, pay + "/QueryPrepared", sql, business);
//
// Not thread-safe; a Msg is built and sent by one thread.
#ifndef DTX_MSG_H_
#define DTX_MSG_H_

#include <string>

#include "absl/status/status.h"
#include "dtx/submitter.h"
#include "dtx/transaction.h"

namespace dtx {

class Msg {
 public:
  // `submitter` is not owned and must outlive the calls below.
  Msg(Submitter* submitter, std::string gid);

  // Appends an action, delivered with `payload` as its body (an HTTP GET when empty).
  Msg& Add(std::string action, std::string payload);
  // The actions are delivered together instead of one after another.
  Msg& EnableConcurrent();
  // The actions are delivered no sooner than this after the prepare (or the submit,
  // without prepare).
  Msg& Delay(absl::Duration d);
  Msg& WaitResult(bool wait);
  // Still prepared this long after Prepare, the coordinator asks query_prepared.
  // Default: zero, the coordinator's (35 s).
  Msg& TimeoutToFail(absl::Duration d);
  Msg& RequestTimeout(absl::Duration d);
  Msg& RetryInterval(absl::Duration d);
  Msg& BranchHeader(std::string name, std::string value);
  // The W3C trace context to run under (TransOptions::traceparent): the branches'
  // calls carry it, so their work joins the caller's trace.
  Msg& Traceparent(std::string traceparent, std::string tracestate = "");
  Msg& Protocol(std::string protocol);

  const std::string& gid() const { return global_.gid; }

  // The message as it is sent (custom_data filled from the options above).
  TransGlobal Build() const;

  // Stores the message `prepared`, with the URL the coordinator asks when it is left
  // so (GET query_prepared?gid=..&trans_type=msg&branch_id=00&op=msg).
  absl::Status Prepare(std::string query_prepared);
  // Delivers it: after Prepare, the prepared message; without, a new one.
  absl::Status Submit();
  // Drops a prepared message: nothing is delivered.
  absl::Status Abort();

 private:
  Submitter* submitter_;
  TransGlobal global_;
  bool concurrent_ = false;
  absl::Duration delay_ = absl::ZeroDuration();
};

}  // namespace dtx

#endif  // DTX_MSG_H_
