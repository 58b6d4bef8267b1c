// dtx::Saga: builds a saga global transaction and submits it.
//
//   dtx::Saga saga(&coordinator, dtx::GidGenerator().Next());
//   saga.Add(out + "/TransOut", out + "/TransOutCompensate", R"({"amount":30})")
//       .Add(in + "/TransIn", in + "/TransInCompensate", R"({"amount":30})")
//       .WaitResult(true);
//   absl::Status s = saga.Submit();
//
// Steps run in the order added unless EnableConcurrent() is called; a concurrent saga
// runs every action whose AddBranchOrder predecessors have succeeded. When an action
// answers FAILURE the coordinator runs the compensation of every action it called,
// in reverse order.
//
// Not thread-safe; a Saga is built and submitted by one thread.
#ifndef DTX_SAGA_H_
#define DTX_SAGA_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dtx/submitter.h"
#include "dtx/transaction.h"

namespace dtx {

class Saga {
 public:
  // `submitter` is not owned and must outlive Submit().
  Saga(Submitter* submitter, std::string gid);

  // Appends a step. An empty URL is a no-op that succeeds. `payload` is sent as the
  // body of both calls (an HTTP GET when empty).
  Saga& Add(std::string action, std::string compensate, std::string payload);

  // Concurrent saga: actions run in parallel, subject to AddBranchOrder.
  Saga& EnableConcurrent();
  // Step `step` (0-based, in Add order) runs only after every step in `predecessors`
  // succeeded; compensations run in the reverse order.
  Saga& AddBranchOrder(int step, std::vector<int> predecessors);

  Saga& WaitResult(bool wait);
  Saga& TimeoutToFail(absl::Duration d);
  Saga& RequestTimeout(absl::Duration d);
  Saga& RetryInterval(absl::Duration d);
  Saga& RetryLimit(int64_t n);
  Saga& BranchHeader(std::string name, std::string value);
  // The W3C trace context to run under (TransOptions::traceparent): the branches'
  // calls carry it, so their work joins the caller's trace.
  Saga& Traceparent(std::string traceparent, std::string tracestate = "");
  // "http" (default) or any protocol the coordinator has a transport for.
  Saga& Protocol(std::string protocol);

  const std::string& gid() const { return global_.gid; }

  // The transaction as it will be submitted (custom_data filled from the orders).
  TransGlobal Build() const;

  // Submits through the submitter; see Submitter::Submit for the codes.
  absl::Status Submit();

 private:
  Submitter* submitter_;
  TransGlobal global_;
  bool concurrent_ = false;
  std::map<int, std::vector<int>> orders_;
};

// Reads a saga back from DTM's submit JSON (see TransGlobalFromJson).
absl::StatusOr<TransGlobal> SagaFromJson(std::string_view json);

}  // namespace dtx

#endif  // DTX_SAGA_H_
