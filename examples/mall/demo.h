// The seed's three scenarios, played against a running mall through its HTTP API:
//  1. a product with stock 1; an order succeeds; stock 0;
//  2. another order: insufficient stock; the saga rolls back; the order has status 9;
//     stock still 0; DecrStock's compensation was a null compensation, CreateRevert ran;
//  3. stock 100; DecrStock fails after committing; the order has status 9, stock is
//     back at 100, both compensations ran.
#ifndef MALL_DEMO_H_
#define MALL_DEMO_H_

#include <string>

namespace mall {

struct DemoOptions {
  std::string api_base;        // e.g. http://127.0.0.1:8888
  std::string product_target;  // product service gRPC address (for the fault switch)
  std::string product_db;      // storage URLs of the product and order databases,
  std::string order_db;        // to show their barrier tables
};

// Prints each step and each check; returns how many checks failed.
int RunDemo(const DemoOptions& options);

}  // namespace mall

#endif  // MALL_DEMO_H_
