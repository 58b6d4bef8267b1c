#include "api/mall_api.h"

#include <grpcpp/create_channel.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>

#include "dtx/gid.h"
#include "dtx/grpc/grpc_branch.h"
#include "dtx/http/http_branch.h"
#include "dtx/result.h"
#include "dtx/saga.h"

namespace mall {
namespace {

using nlohmann::json;

constexpr int64_t kMaxNum = 1000;
constexpr int64_t kMaxBalance = int64_t{1} << 50;

// A request body read strictly: an object whose named fields have the right types.
class Body {
 public:
  explicit Body(const std::string& text)
      : doc_(json::parse(text, nullptr, /*allow_exceptions=*/false)) {
    if (doc_.is_discarded() || !doc_.is_object()) error_ = "body must be a JSON object";
  }
  // A required integer in [min, max]; with `fallback`, an optional one.
  int64_t Int(const char* name, int64_t min, int64_t max = INT64_MAX,
              std::optional<int64_t> fallback = std::nullopt) {
    if (!error_.empty()) return 0;
    auto it = doc_.find(name);
    if (it == doc_.end() && fallback) return *fallback;
    if (it == doc_.end()) return Fail(std::string("missing '") + name + "'"), 0;
    if (!it->is_number_integer())
      return Fail(std::string("'") + name + "' must be an integer"), 0;
    int64_t v = it->get<int64_t>();
    if (v < min || v > max) {
      return Fail(std::string("'") + name + "' must be in [" + std::to_string(min) +
                  ", " + std::to_string(max) + "]"),
             0;
    }
    return v;
  }
  std::string String(const char* name, bool required = true) {
    if (!error_.empty()) return "";
    auto it = doc_.find(name);
    if (it == doc_.end()) {
      if (required) Fail(std::string("missing '") + name + "'");
      return "";
    }
    if (!it->is_string()) return Fail(std::string("'") + name + "' must be a string"), "";
    return it->get<std::string>();
  }
  bool Has(const char* name) const { return doc_.is_object() && doc_.contains(name); }
  // Empty when every field read so far was fine.
  const std::string& error() const { return error_; }

 private:
  void Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }
  json doc_;
  std::string error_;
};

json ToJson(const User& u) {
  return {{"id", u.id()},           {"name", u.name()},     {"mobile", u.mobile()},
          {"balance", u.balance()}, {"frozen", u.frozen()}, {"points", u.points()}};
}
json ToJson(const Product& p) {
  return {{"id", p.id()},       {"name", p.name()},     {"desc", p.desc()},
          {"stock", p.stock()}, {"amount", p.amount()}, {"status", p.status()}};
}
json ToJson(const Order& o) {
  return {{"id", o.id()},        {"gid", o.gid()}, {"uid", o.uid()},
          {"pid", o.pid()},      {"num", o.num()}, {"amount", o.amount()},
          {"status", o.status()}};
}

json ToJson(const Payment& p) {
  return {{"id", p.id()},         {"oid", p.oid()}, {"uid", p.uid()},
          {"amount", p.amount()}, {"gid", p.gid()}, {"status", p.status()}};
}

void Reply(dtx::HttpResponse& res, int status, const json& body) {
  res.status = status;
  res.SetBody(body.dump(-1, ' ', false, json::error_handler_t::replace),
              "application/json");
}

void ReplyError(dtx::HttpResponse& res, const absl::Status& status) {
  Reply(res, dtx::HttpStatusOf(status), {{"message", std::string(status.message())}});
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return ctx;
}

// Calls a unary stub method and answers the HTTP request with its result.
template <typename Call, typename Reply_>
void Forward(dtx::HttpResponse& res, Call call, Reply_* reply) {
  auto ctx = Context();
  grpc::Status s = call(ctx.get());
  if (!s.ok()) return ReplyError(res, dtx::FromGrpcStatus(s));
  Reply(res, 200, ToJson(*reply));
}

}  // namespace

MallApi::MallApi(MallApiOptions options)
    : options_(std::move(options)),
      users_(UserService::NewStub(
          grpc::CreateChannel(options_.user_target, grpc::InsecureChannelCredentials()))),
      products_(ProductService::NewStub(grpc::CreateChannel(
          options_.product_target, grpc::InsecureChannelCredentials()))),
      orders_(OrderService::NewStub(grpc::CreateChannel(
          options_.order_target, grpc::InsecureChannelCredentials()))),
      payments_(PayService::NewStub(grpc::CreateChannel(
          options_.pay_target, grpc::InsecureChannelCredentials()))) {}

void MallApi::Register(dtx::HttpBranchServer& server) {
  auto route = [&server](const std::string& path, auto handler) {
    server.Post(path, [handler](const dtx::HttpRequest& req, dtx::HttpResponse& res) {
      Body body(req.body);
      handler(body, res);
    });
  };
  route("/api/user/create", [this](Body& b, dtx::HttpResponse& res) {
    UserCreateRequest r;
    r.set_name(b.String("name"));
    r.set_mobile(b.String("mobile"));
    r.set_balance(b.Int("balance", 0, kMaxBalance, /*fallback=*/0));
    if (!b.error().empty()) return ReplyError(res, absl::InvalidArgumentError(b.error()));
    User user;
    Forward(
        res, [&](grpc::ClientContext* c) { return users_->Create(c, r, &user); }, &user);
  });
  route("/api/user/detail", [this](Body& b, dtx::HttpResponse& res) {
    UserIdRequest r;
    r.set_id(b.Int("id", 1));
    if (!b.error().empty()) return ReplyError(res, absl::InvalidArgumentError(b.error()));
    User user;
    Forward(
        res, [&](grpc::ClientContext* c) { return users_->Detail(c, r, &user); }, &user);
  });
  route("/api/product/create", [this](Body& b, dtx::HttpResponse& res) {
    Product p;
    p.set_name(b.String("name"));
    p.set_desc(b.String("desc", /*required=*/false));
    p.set_stock(b.Int("stock", 0));
    p.set_amount(b.Int("amount", 0));
    if (!b.error().empty()) return ReplyError(res, absl::InvalidArgumentError(b.error()));
    Product out;
    Forward(
        res, [&](grpc::ClientContext* c) { return products_->Create(c, p, &out); }, &out);
  });
  route("/api/product/detail", [this](Body& b, dtx::HttpResponse& res) {
    ProductIdRequest r;
    r.set_id(b.Int("id", 1));
    if (!b.error().empty()) return ReplyError(res, absl::InvalidArgumentError(b.error()));
    Product out;
    Forward(
        res, [&](grpc::ClientContext* c) { return products_->Detail(c, r, &out); }, &out);
  });
  route("/api/product/update", [this](Body& b, dtx::HttpResponse& res) {
    StockRequest r;
    r.set_id(b.Int("id", 1));
    r.set_stock(b.Int("stock", 0));
    if (!b.error().empty()) return ReplyError(res, absl::InvalidArgumentError(b.error()));
    Product out;
    Forward(
        res, [&](grpc::ClientContext* c) { return products_->SetStock(c, r, &out); },
        &out);
  });
  server.Post("/api/order/create",
              [this](const dtx::HttpRequest& req, dtx::HttpResponse& res) {
                CreateOrder(req, res);
              });
  route("/api/order/detail", [this](Body& b, dtx::HttpResponse& res) {
    OrderQuery q;
    if (b.Has("gid")) {
      q.set_gid(b.String("gid"));
    } else {
      q.set_id(b.Int("id", 1));
    }
    if (!b.error().empty()) return ReplyError(res, absl::InvalidArgumentError(b.error()));
    Order out;
    Forward(
        res, [&](grpc::ClientContext* c) { return orders_->Detail(c, q, &out); }, &out);
  });
  route("/api/order/list", [this](Body& b, dtx::HttpResponse& res) {
    OrderListRequest r;
    r.set_uid(b.Int("uid", 1));
    if (!b.error().empty()) return ReplyError(res, absl::InvalidArgumentError(b.error()));
    OrderList list;
    auto ctx = Context();
    grpc::Status s = orders_->List(ctx.get(), r, &list);
    if (!s.ok()) return ReplyError(res, dtx::FromGrpcStatus(s));
    json orders = json::array();
    for (const Order& o : list.orders()) orders.push_back(ToJson(o));
    Reply(res, 200, {{"orders", std::move(orders)}});
  });
  server.Post("/api/pay/create",
              [this](const dtx::HttpRequest& req, dtx::HttpResponse& res) {
                CreatePayment(req, res);
              });
  route("/api/pay/detail", [this](Body& b, dtx::HttpResponse& res) {
    PayRequest r;
    r.set_oid(b.Int("oid", 1));
    if (!b.error().empty()) return ReplyError(res, absl::InvalidArgumentError(b.error()));
    Payment out;
    Forward(
        res, [&](grpc::ClientContext* c) { return payments_->Detail(c, r, &out); }, &out);
  });
}

void MallApi::CreatePayment(const dtx::HttpRequest& req, dtx::HttpResponse& res) {
  Body b(req.body);
  PayRequest r;
  r.set_oid(b.Int("oid", 1));
  if (!b.error().empty()) return ReplyError(res, absl::InvalidArgumentError(b.error()));
  // The pay service calls the tries, each within the branch timeout, and waits for the
  // confirms or cancels.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5) +
                   absl::ToChronoSeconds(options_.branch_timeout * 4));
  Payment payment;
  absl::Status s = dtx::FromGrpcStatus(payments_->Create(&ctx, r, &payment));
  if (s.ok()) return Reply(res, 200, {{"payment", ToJson(payment)}});
  if (dtx::IsOngoing(s)) return Reply(res, 202, {{"message", std::string(s.message())}});
  if (!dtx::IsFailure(s)) return ReplyError(res, s);
  json body = {{"message", std::string(s.message())}};
  Payment detail;
  grpc::ClientContext detail_ctx;
  detail_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (payments_->Detail(&detail_ctx, r, &detail).ok()) body["payment"] = ToJson(detail);
  Reply(res, 409, body);
}

void MallApi::CreateOrder(const dtx::HttpRequest& req, dtx::HttpResponse& res) {
  Body b(req.body);
  const int64_t uid = b.Int("uid", 1), pid = b.Int("pid", 1),
                num = b.Int("num", 1, kMaxNum);
  if (!b.error().empty()) return ReplyError(res, absl::InvalidArgumentError(b.error()));

  // Check the user and the product before anything is written.
  User user;
  UserIdRequest user_id;
  user_id.set_id(uid);
  grpc::Status s = users_->Detail(Context().get(), user_id, &user);
  if (!s.ok()) return ReplyError(res, dtx::FromGrpcStatus(s));
  Product product;
  ProductIdRequest product_id;
  product_id.set_id(pid);
  s = products_->Detail(Context().get(), product_id, &product);
  if (!s.ok()) return ReplyError(res, dtx::FromGrpcStatus(s));

  OrderCreateRequest order;
  order.set_uid(uid);
  order.set_pid(pid);
  order.set_num(num);
  order.set_amount(product.amount() * num);
  DecrStockRequest stock;
  stock.set_id(pid);
  stock.set_num(num);
  const std::string gid = dtx::GidGenerator().Next();
  const std::string o = options_.order_target + "/mall.OrderService/";
  const std::string p = options_.product_target + "/mall.ProductService/";
  absl::Status result =
      dtx::Saga(options_.submitter, gid)
          .Add(o + "Create", o + "CreateRevert", order.SerializeAsString())
          .Add(p + "DecrStock", p + "DecrStockRevert", stock.SerializeAsString())
          .Protocol("grpc")
          .RequestTimeout(options_.branch_timeout)
          .WaitResult(true)
          .Submit();
  json body = {{"gid", gid}};
  if (dtx::IsOngoing(result)) {
    body["message"] = "the order is being processed";
    return Reply(res, 202, body);
  }
  if (!result.ok() && !dtx::IsFailure(result)) return ReplyError(res, result);
  OrderQuery q;
  q.set_gid(gid);
  Order created;
  if (orders_->Detail(Context().get(), q, &created).ok()) body["order"] = ToJson(created);
  if (result.ok()) return Reply(res, 200, body);
  body["message"] = std::string(result.message());
  Reply(res, 409, body);
}

}  // namespace mall
