// Paying an order, the pay service's flow:
//  1. a TCC is prepared, and in its body the payment row becomes paying under the
//     TCC's gid (one attempt per order at a time: a second one aborts its TCC);
//  2. the TCC's two branches, the order (PayTry marks it paying / PayConfirm paid /
//     PayCancel back) and the user's wallet (WalletTry freezes the amount /
//     WalletConfirm takes it / WalletCancel releases it); a try that fails, or does not
//     answer in time, aborts it and the cancels run;
//  3. once the TCC succeeded, the payment turns paid in a local transaction that also
//     sends the "paid" message (dtx::DoAndSubmit): its action credits the user one
//     loyalty point per 100 cents, delivered if and only if that transaction commits.
// A payment left paying (the pay service stopped between 1 and 3, the confirms were
// still running, or the message could not be sent) is settled when its order is paid
// again, and by SettleInFlight, which the pay service runs every few seconds: the
// coordinator says how its TCC ended.
#ifndef MALL_PAY_PAYER_H_
#define MALL_PAY_PAYER_H_

#include <memory>
#include <set>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "dtx/submitter.h"
#include "dtx/transport.h"
#include "order.grpc.pb.h"
#include "order/orders.h"
#include "pay/payments.h"

namespace mall {

struct PayerOptions {
  // gRPC addresses (host:port) of the user and order services.
  std::string user_target;
  std::string order_target;
  // Where the TCC and the message go (an embedded dtx::Coordinator or a remote
  // submitter); the transport the tries are called through. Not owned.
  dtx::Submitter* submitter = nullptr;
  dtx::Transport* transport = nullptr;
  // Timeout of each branch call, the tries included. Default: 3 s.
  absl::Duration request_timeout = absl::Seconds(3);
};

// Thread-safe.
class Payer {
 public:
  Payer(Database* db, Payments* payments, PayerOptions options);

  // The pay service's own QueryPrepared ("host:port/mall.PayService/QueryPrepared"),
  // which the coordinator asks about a "paid" message left prepared: an address that
  // stays the same across restarts, since the coordinator keeps it. Set once the
  // service's port is known; until then Pay answers kUnavailable.
  void SetQueryPrepared(std::string url);

  // Pays order `oid`, as PayService.Create documents: the payment paid (also when it
  // was paid before); FAILURE (kAborted) refused and rolled back; ONGOING
  // (kFailedPrecondition) still in flight; kNotFound for an unknown order; another
  // error when a service or the coordinator could not be reached (the payment may
  // then be left paying, and is settled by the next Pay of the order).
  absl::StatusOr<Payment> Pay(int64_t oid);

  // Settles up to `limit` payments left paying (as Pay would) that the previous call
  // found paying under the same attempt too, so that an attempt still running is
  // left to finish itself; returns how many it finished (paid) or marked failed. Call
  // it every few seconds.
  absl::StatusOr<int> SettleInFlight(int limit = 100);

 private:
  absl::StatusOr<Payment> Attempt(const Order& order);
  // A payment left paying: finishes it, marks it failed, or answers ONGOING.
  absl::StatusOr<Payment> Settle(const Payment& payment);
  // Step 3: paid, with the "paid" message.
  absl::StatusOr<Payment> Finish(const Payment& payment);

  Database* db_;
  Payments* payments_;
  PayerOptions options_;
  absl::Mutex mu_;
  std::string query_prepared_ ABSL_GUARDED_BY(mu_);
  // (oid, gid) of the payments SettleInFlight found paying last time.
  std::set<std::pair<int64_t, std::string>> paying_before_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<OrderService::Stub> orders_;
};

}  // namespace mall

#endif  // MALL_PAY_PAYER_H_
