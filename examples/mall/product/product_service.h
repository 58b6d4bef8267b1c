// The product service's gRPC handlers. DecrStock and DecrStockRevert are saga branches:
// each runs its stock change behind a dtx::Barrier, in one local transaction.
#ifndef MALL_PRODUCT_PRODUCT_SERVICE_H_
#define MALL_PRODUCT_PRODUCT_SERVICE_H_

#include <atomic>

#include "product.grpc.pb.h"
#include "product/products.h"

namespace mall {

class ProductServiceImpl final : public ProductService::Service {
 public:
  ProductServiceImpl(Database* db, Products* products) : db_(db), products_(products) {}

  grpc::Status Create(grpc::ServerContext*, const Product* request,
                      Product* reply) override;
  grpc::Status Detail(grpc::ServerContext*, const ProductIdRequest* request,
                      Product* reply) override;
  grpc::Status SetStock(grpc::ServerContext*, const StockRequest* request,
                        Product* reply) override;
  grpc::Status DecrStock(grpc::ServerContext* context, const DecrStockRequest* request,
                         Empty* reply) override;
  grpc::Status DecrStockRevert(grpc::ServerContext* context,
                               const DecrStockRequest* request, Empty* reply) override;
  // Fault injection for the demo and tests.
  grpc::Status SetFault(grpc::ServerContext*, const FaultRequest* request,
                        Empty* reply) override;

 private:
  Database* db_;
  Products* products_;
  std::atomic<bool> fail_after_commit_{false};
};

}  // namespace mall

#endif  // MALL_PRODUCT_PRODUCT_SERVICE_H_
