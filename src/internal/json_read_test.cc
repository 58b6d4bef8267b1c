#include "internal/json_read.h"

#include <catch2/catch.hpp>
#include <string>

#include "absl/strings/match.h"

namespace dtx::internal {
namespace {

std::string Nested(int depth, char open, char close) {
  return std::string(depth, open) + std::string(depth, close);
}

TEST_CASE("ReadJson takes nesting up to its limit") {
  absl::StatusOr<nlohmann::json> doc = ReadJson(Nested(64, '[', ']'), "body");
  REQUIRE(doc.ok());
  CHECK(doc->is_array());
  CHECK(ReadJson(R"({"a":{"b":[1,2,{"c":null}]}})", "body").ok());
}

TEST_CASE("ReadJson refuses deep nesting while parsing, without recursing") {
  // 500,000 levels fit a 1 MiB body: the parse must neither recurse nor build a
  // message out of the value.
  for (auto [open, close] : {std::pair{'[', ']'}, std::pair{'{', '}'}}) {
    std::string deep = std::string(500000, '[');
    if (open == '{') {
      deep.clear();
      for (int i = 0; i < 100000; ++i) deep += R"({"a":)";
      deep += "1" + std::string(100000, '}');
    } else {
      deep += std::string(500000, ']');
    }
    absl::StatusOr<nlohmann::json> doc = ReadJson(deep, "body");
    REQUIRE(absl::IsInvalidArgument(doc.status()));
    CHECK(doc.status().message() == "body: JSON nested deeper than 64 levels");
  }
  CHECK(absl::IsInvalidArgument(ReadJson(Nested(65, '[', ']'), "x").status()));
  CHECK(absl::IsInvalidArgument(ReadJson(Nested(3, '[', ']'), "x", 2).status()));
}

TEST_CASE("ReadJson says where malformed input breaks") {
  absl::StatusOr<nlohmann::json> doc = ReadJson("{\"a\":", "submit body");
  REQUIRE(absl::IsInvalidArgument(doc.status()));
  CHECK(absl::StartsWith(doc.status().message(), "submit body: malformed JSON at byte"));
  // Unclosed deep nesting is malformed, not a crash.
  CHECK(absl::IsInvalidArgument(ReadJson(std::string(300000, '['), "x").status()));
  CHECK(absl::IsInvalidArgument(ReadJson("", "x").status()));
  CHECK(absl::IsInvalidArgument(ReadJson(std::string("\"\xff\""), "x").status()));
}

}  // namespace
}  // namespace dtx::internal
