// The seed's three scenarios, played against a running mall through its HTTP API:
//  1. a product with stock 1; an order succeeds; stock 0;
//  2. another order: insufficient stock; the saga rolls back; the order has status 9;
//     stock still 0; DecrStock's compensation was a null compensation, CreateRevert ran;
//  3. stock 100; DecrStock fails after committing; the order has status 9, stock is
//     back at 100, both compensations ran.
// Then payments, each a TCC across the wallet and the order plus a "paid" message:
//  4. a user with 6000 pays an order of 4999: paid, 1001 left, 49 points credited;
//     paying again takes nothing more;
//  5. an order of 4999 more: insufficient balance; the cancels restore the order (back
//     to created) and the wallet (its try had rolled back: a null compensation);
//  6. an order of 300 whose wallet try is held up until its cancel has run (hanging):
//     the payment rolls back, and the late try changes nothing; paid again, it
//     succeeds.
#ifndef MALL_DEMO_H_
#define MALL_DEMO_H_

#include <string>

namespace mall {

struct DemoOptions {
  std::string api_base;        // e.g. http://127.0.0.1:8888
  std::string product_target;  // product and user services' gRPC addresses (for their
  std::string user_target;     // fault switches)
  std::string product_db;      // storage URLs of the product, order and user
  std::string order_db;        // databases, to show their barrier tables
  std::string user_db;
};

// Prints each step and each check; returns how many checks failed.
int RunDemo(const DemoOptions& options);

}  // namespace mall

#endif  // MALL_DEMO_H_
