#include "dtx/result.h"

#include <catch2/catch.hpp>

namespace dtx {
namespace {

TEST_CASE("statuses map to results, HTTP codes and gRPC codes") {
  CHECK(ResultOf(absl::OkStatus()) == BranchResult::kSuccess);
  CHECK(ResultOf(FailureError("x")) == BranchResult::kFailure);
  CHECK(ResultOf(OngoingError("x")) == BranchResult::kOngoing);
  CHECK(ResultOf(absl::UnavailableError("x")) == BranchResult::kError);
  CHECK(HttpStatusOf(absl::OkStatus()) == 200);
  CHECK(HttpStatusOf(FailureError("x")) == 409);
  CHECK(HttpStatusOf(OngoingError("x")) == 425);
  CHECK(HttpStatusOf(absl::InvalidArgumentError("x")) == 400);
  CHECK(HttpStatusOf(absl::NotFoundError("x")) == 404);
  CHECK(HttpStatusOf(absl::InternalError("x")) == 500);
  CHECK(GrpcCodeOf(FailureError("x")) == 10);  // ABORTED
  CHECK(GrpcCodeOf(OngoingError("x")) == 9);   // FAILED_PRECONDITION
  CHECK(IsFailure(StatusFromGrpc(10, "no")));
  CHECK(IsOngoing(StatusFromGrpc(9, "later")));
  CHECK(StatusFromGrpc(0, "").ok());
  CHECK(absl::IsUnknown(StatusFromGrpc(99, "?")));
}

TEST_CASE("HTTP answers are read as DTM reads them") {
  CHECK(StatusFromHttp(200, R"({"dtm_result":"SUCCESS"})").ok());
  CHECK(StatusFromHttp(200, "").ok());
  CHECK(IsFailure(StatusFromHttp(409, "")));
  CHECK(IsOngoing(StatusFromHttp(425, "")));
  // The body decides too, ONGOING before FAILURE.
  CHECK(IsFailure(StatusFromHttp(200, R"({"dtm_result":"FAILURE"})")));
  CHECK(IsOngoing(StatusFromHttp(500, "ONGOING")));
  CHECK(IsOngoing(StatusFromHttp(409, "FAILURE ONGOING")));
  CHECK(absl::IsUnavailable(StatusFromHttp(502, "bad gateway")));
  absl::Status teapot = StatusFromHttp(418, "teapot");
  CHECK(absl::IsUnknown(teapot));
  CHECK(teapot.message() == "HTTP 418: teapot");
}

TEST_CASE("HTTP bodies carry DTM's dtm_result") {
  CHECK(HttpBodyOf(absl::OkStatus()) == R"({"dtm_result":"SUCCESS"})");
  CHECK(HttpBodyOf(FailureError("no")) == R"({"dtm_result":"FAILURE","message":"no"})");
  CHECK(HttpBodyOf(OngoingError("wait")) ==
        R"({"dtm_result":"ONGOING","message":"wait"})");
  CHECK(HttpBodyOf(absl::InternalError("x")) == R"({"message":"x"})");
  // A body we write round-trips to the same result.
  CHECK(IsFailure(StatusFromHttp(409, HttpBodyOf(FailureError("no")))));
}

}  // namespace
}  // namespace dtx
