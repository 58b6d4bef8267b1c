// The pay service's gRPC handlers over Payer and Payments.
#ifndef MALL_PAY_PAY_SERVICE_H_
#define MALL_PAY_PAY_SERVICE_H_

#include "pay.grpc.pb.h"
#include "pay/payer.h"
#include "pay/payments.h"

namespace mall {

class PayServiceImpl final : public PayService::Service {
 public:
  PayServiceImpl(Database* db, Payments* payments, Payer* payer)
      : db_(db), payments_(payments), payer_(payer) {}

  grpc::Status Create(grpc::ServerContext*, const PayRequest* request,
                      Payment* reply) override;
  grpc::Status Detail(grpc::ServerContext*, const PayRequest* request,
                      Payment* reply) override;
  // Barrier::QueryPrepared on the pay database, for the gid the call carries.
  grpc::Status QueryPrepared(grpc::ServerContext* context, const PayEmpty* request,
                             PayEmpty* reply) override;

 private:
  Database* db_;
  Payments* payments_;
  Payer* payer_;
};

}  // namespace mall

#endif  // MALL_PAY_PAY_SERVICE_H_
