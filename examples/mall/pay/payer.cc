#include "pay/payer.h"

#include <grpcpp/create_channel.h>

#include <chrono>

#include "dtx/gid.h"
#include "dtx/grpc/grpc_branch.h"
#include "dtx/msg.h"
#include "dtx/result.h"
#include "dtx/soci/do_and_submit.h"
#include "dtx/tcc.h"
#include "user.pb.h"

namespace mall {
namespace {

std::string Of(int64_t oid) { return "order " + std::to_string(oid); }

}  // namespace

Payer::Payer(Database* db, Payments* payments, PayerOptions options)
    : db_(db),
      payments_(payments),
      options_(std::move(options)),
      orders_(OrderService::NewStub(grpc::CreateChannel(
          options_.order_target, grpc::InsecureChannelCredentials()))) {}

void Payer::SetQueryPrepared(std::string url) {
  absl::MutexLock lock(&mu_);
  query_prepared_ = std::move(url);
}

absl::StatusOr<Payment> Payer::Pay(int64_t oid) {
  {
    absl::MutexLock lock(&mu_);
    if (query_prepared_.empty())
      return absl::UnavailableError("the pay service is starting");
  }
  Order order;
  OrderQuery query;
  query.set_id(oid);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (grpc::Status s = orders_->Detail(&ctx, query, &order); !s.ok()) {
    return dtx::FromGrpcStatus(s);
  }
  absl::StatusOr<Payment> payment = payments_->FindByOrder(oid);
  if (payment.ok()) {
    if (payment->status() == kPaymentPaying) payment = Settle(*payment);
    if (!payment.ok() || payment->status() != kPaymentFailed) return payment;
  } else if (!absl::IsNotFound(payment.status())) {
    return payment.status();
  }
  if (order.status() == kOrderPaying) {
    // No attempt of ours is paying: an earlier one rolled back and its cancel has not
    // reached the order yet.
    return dtx::OngoingError(Of(oid) + " is still held by a payment rolling back");
  }
  if (order.status() != kOrderCreated) {
    return dtx::FailureError(Of(oid) + " is not awaiting payment (status " +
                             std::to_string(order.status()) + ")");
  }
  return Attempt(order);
}

absl::StatusOr<int> Payer::SettleInFlight(int limit) {
  absl::StatusOr<std::vector<Payment>> paying = payments_->ListPaying(limit);
  if (!paying.ok()) return paying.status();
  std::set<std::pair<int64_t, std::string>> now_paying, before;
  for (const Payment& p : *paying) now_paying.emplace(p.oid(), p.gid());
  {
    absl::MutexLock lock(&mu_);
    before = std::exchange(paying_before_, now_paying);
  }
  int settled = 0;
  for (const Payment& p : *paying) {
    if (before.count({p.oid(), p.gid()}) == 0) continue;  // maybe still running
    absl::StatusOr<Payment> now = Settle(p);
    if (now.ok() && now->status() != kPaymentPaying) ++settled;
  }
  return settled;
}

absl::StatusOr<Payment> Payer::Attempt(const Order& order) {
  OrderPayRequest pay;
  pay.set_id(order.id());
  pay.set_uid(order.uid());
  pay.set_amount(order.amount());
  WalletRequest wallet;
  wallet.set_uid(order.uid());
  wallet.set_amount(order.amount());
  const std::string o = options_.order_target + "/mall.OrderService/";
  const std::string u = options_.user_target + "/mall.UserService/";
  const std::string gid = dtx::GidGenerator().Next();
  // The payment row turns paying only once the TCC is stored, inside its body: so
  // the coordinator knows every gid a paying row names, and Settle can ask it.
  absl::StatusOr<Payment> payment = absl::UnknownError("not begun");
  auto try_branch = [](dtx::Tcc& tcc, const char* what, const std::string& payload,
                       const std::string& prefix) {
    absl::Status s =
        tcc.CallBranch(payload, prefix + "Try", prefix + "Confirm", prefix + "Cancel");
    return s.ok() ? s
                  : absl::Status(s.code(),
                                 std::string(what) + ": " + std::string(s.message()));
  };
  absl::Status body;  // what the body returned; not OK: the TCC was aborted
  absl::Status result =
      dtx::Tcc(options_.submitter, options_.transport, gid)
          .Protocol("grpc")
          .RequestTimeout(options_.request_timeout)
          .WaitResult(true)
          .Run([&](dtx::Tcc& tcc) {
            payment = payments_->Begin(order.id(), order.uid(), order.amount(), gid);
            body = payment.status();
            if (body.ok()) {
              body =
                  try_branch(tcc, "the order's try", pay.SerializeAsString(), o + "Pay");
            }
            if (body.ok()) {
              body = try_branch(tcc, "the wallet's try", wallet.SerializeAsString(),
                                u + "Wallet");
            }
            return body;
          });
  if (absl::IsAlreadyExists(payment.status())) {
    return dtx::OngoingError(std::string(payment.status().message()));
  }
  // Not begun: the prepare or the Begin failed, and the payment is as it was.
  if (!payment.ok()) return result;
  if (!body.ok() || dtx::IsFailure(result)) {
    // Rolled back, or rolling back: it can never confirm now.
    (void)payments_->Fail(order.id(), gid);
    return dtx::FailureError("the payment of " + Of(order.id()) +
                             " was rolled back: " + std::string(result.message()));
  }
  // Not OK here: the confirms are still running or the coordinator was not reached;
  // the payment stays paying, for the next Pay to settle.
  if (!result.ok()) return result;
  return Finish(*payment);
}

absl::StatusOr<Payment> Payer::Settle(const Payment& payment) {
  absl::StatusOr<dtx::TransactionState> tcc = options_.submitter->Query(payment.gid());
  const std::string status = tcc.ok() ? tcc->global.status : "";
  if (status == "succeed") return Finish(payment);
  if (status == "failed") {  // ended without confirming
    if (absl::Status s = payments_->Fail(payment.oid(), payment.gid()); !s.ok()) return s;
    return payments_->FindByOrder(payment.oid());
  }
  if (absl::IsNotFound(tcc.status())) {
    // A paying row's TCC is stored before the row turns paying (Attempt): the
    // coordinator lost it, or purged it (retention) while the row stayed paying.
    return absl::InternalError("the coordinator has no transaction " + payment.gid() +
                               " for the payment of " + Of(payment.oid()) +
                               " (paying): settle it by hand");
  }
  if (!tcc.ok()) {
    return absl::Status(tcc.status().code(),
                        "cannot tell how the payment of " + Of(payment.oid()) +
                            " went: " + std::string(tcc.status().message()));
  }
  // prepared (its attempt is running, or the coordinator rolls it back at its
  // timeout), submitted or aborting.
  return dtx::OngoingError("the payment of " + Of(payment.oid()) + " is in flight (" +
                           status + ")");
}

absl::StatusOr<Payment> Payer::Finish(const Payment& payment) {
  PointsRequest points;
  points.set_uid(payment.uid());
  points.set_points(payment.amount() / 100);
  dtx::Msg paid(options_.submitter, dtx::GidGenerator().Next());
  paid.Add(options_.user_target + "/mall.UserService/CreditPoints",
           points.SerializeAsString())
      .Protocol("grpc")
      .RequestTimeout(options_.request_timeout);
  std::string query_prepared;
  {
    absl::MutexLock lock(&mu_);
    query_prepared = query_prepared_;
  }
  absl::Status sent = db_->Run([&](soci::session& sql) {
    return dtx::DoAndSubmit(paid, query_prepared, sql, [&](soci::session& tx) {
      return Payments::MarkPaid(tx, payment.oid(), payment.gid());
    });
  });
  // Paid when the local transaction committed, whatever the submit answered: the
  // coordinator's back-check delivers the message then.
  absl::StatusOr<Payment> now = payments_->FindByOrder(payment.oid());
  if (now.ok() && now->status() == kPaymentPaid) return now;
  return sent.ok() ? now : sent;
}

}  // namespace mall
