#include "dtx/allow_list.h"

#include <catch2/catch.hpp>

namespace dtx {
namespace {

AllowList Parse(const std::vector<std::string>& entries) {
  absl::StatusOr<AllowList> list = AllowList::Parse(entries);
  REQUIRE(list.ok());
  return *std::move(list);
}

TEST_CASE("an empty allow-list allows everything") {
  AllowList list;
  CHECK(list.empty());
  CHECK(list.Allows("169.254.169.254", 80));
  CHECK(Parse({}).Allows("anything", 1));
}

TEST_CASE("CIDR blocks and addresses match addresses") {
  AllowList list = Parse({"10.0.0.0/8", "192.168.1.7", "127.0.0.1:8080", "fd00::/8",
                          "[::1]:9000", "172.16.0.0/12"});
  CHECK(list.Allows("10.1.2.3", 80));
  CHECK(list.Allows("10.255.255.255", 1));
  CHECK_FALSE(list.Allows("11.0.0.1", 80));
  CHECK(list.Allows("192.168.1.7", 443));
  CHECK_FALSE(list.Allows("192.168.1.8", 443));
  CHECK(list.Allows("127.0.0.1", 8080));
  CHECK_FALSE(list.Allows("127.0.0.1", 8081));
  CHECK(list.Allows("fd12:3456::1", 80));
  CHECK_FALSE(list.Allows("fe80::1", 80));
  CHECK(list.Allows("::1", 9000));
  CHECK_FALSE(list.Allows("::1", 9001));
  CHECK(list.Allows("172.31.255.1", 80));  // /12: 172.16-172.31
  CHECK_FALSE(list.Allows("172.32.0.1", 80));
  CHECK_FALSE(list.Allows("169.254.169.254", 80));
  // A name is not resolved: it matches no address entry.
  CHECK_FALSE(list.Allows("localhost", 8080));
}

TEST_CASE("names match name entries, as written") {
  AllowList list = Parse({"orders.svc", "*.internal:8080", "pay.local:*"});
  CHECK(list.Allows("orders.svc", 1));
  CHECK(list.Allows("ORDERS.svc", 1));
  CHECK_FALSE(list.Allows("evil-orders.svc", 1));
  CHECK(list.Allows("a.internal", 8080));
  CHECK(list.Allows("b.c.internal", 8080));
  CHECK_FALSE(list.Allows("internal", 8080));
  CHECK_FALSE(list.Allows("a.internal", 8081));
  CHECK_FALSE(list.Allows("a.internal.evil", 8080));
  CHECK(list.Allows("pay.local", 65535));
  CHECK_FALSE(list.Allows("10.0.0.1", 8080));
}

TEST_CASE("bad allow-list entries are refused") {
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/x", "::/129", "host:0", "host:70000",
                          "[::1", "[::1]x", "a b", "*.", "", "http://x", "h/8"}) {
    INFO(bad);
    CHECK(absl::IsInvalidArgument(AllowList::Parse({bad}).status()));
  }
}

}  // namespace
}  // namespace dtx
