#include "soci/trans_row.h"

#include <catch2/catch.hpp>

#include "internal/branch_rows.h"
#include "soci/sql.h"

namespace dtx::internal {
namespace {

constexpr long long kCreate = 1'796'000'000'000;

TransBranch Branch(const std::string& id, const std::string& op,
                   const std::string& payload, long long created = kCreate) {
  TransBranch b;
  b.url = "http://127.0.0.1:8081/api/" + id + "/" + op;
  b.bin_data = payload;
  b.branch_id = id;
  b.op = op;
  b.status = "prepared";
  b.create_time = FromMillis(created);
  return b;
}

TEST_CASE("branches come back as written: shared payloads, binary bytes, later ones") {
  const std::string binary("a\0\x01\xff", 4);
  std::vector<TransBranch> first = {Branch("01", "compensate", binary),
                                    Branch("01", "action", binary),
                                    Branch("02", "compensate", "{}", kCreate - 5),
                                    Branch("02", "action", "", kCreate + 70)};
  std::string column = EncodeBranches(first, kCreate, /*first=*/true);
  // The shared payload is written once: 4 bytes and their length saved.
  TransBranch other = first[1];
  other.bin_data = std::string("b\0\x01\xff", 4);
  CHECK(EncodeBranches({first[0], first[1]}, kCreate, true).size() + 5 ==
        EncodeBranches({first[0], other}, kCreate, true).size());
  column += EncodeBranches({Branch("03", "try-like", "x", kCreate + 9)}, kCreate,
                           /*first=*/false);
  absl::StatusOr<std::vector<TransBranch>> read =
      DecodeBranches("g1", column, "", kCreate);
  REQUIRE(read.ok());
  REQUIRE(read->size() == 5);
  for (size_t i = 0; i < 4; ++i) {
    INFO(i);
    CHECK((*read)[i].url == first[i].url);
    CHECK((*read)[i].bin_data == first[i].bin_data);
    CHECK((*read)[i].branch_id == first[i].branch_id);
    CHECK((*read)[i].op == first[i].op);
    CHECK((*read)[i].status == "prepared");
    CHECK((*read)[i].create_time == first[i].create_time);
    CHECK((*read)[i].update_time == first[i].create_time);
    CHECK((*read)[i].finish_time == absl::InfinitePast());
    CHECK((*read)[i].id == static_cast<int64_t>(i + 1));
    CHECK((*read)[i].gid == "g1");
  }
  CHECK((*read)[4].op == "try-like");
  CHECK((*read)[4].create_time == FromMillis(kCreate + 9));
}

TEST_CASE("a branch takes the first result logged while it is prepared") {
  const std::vector<TransBranch> branches = {Branch("01", "action", "{}"),
                                             Branch("02", "action", "{}"),
                                             Branch("02", "compensate", "{}")};
  const std::string column = EncodeBranches(branches, kCreate, true);
  std::string log = LogEntry({{"01", "action", "succeed"}}, kCreate + 10);
  CHECK(log == "1796000000010|01 a s;");
  log += LogEntry({{"02", "action", "failed"}, {"01", "action", "failed"}}, kCreate + 20);
  log += LogEntry({{"02", "action", "succeed"}, {"02", "compensate", "odd-status"}},
                  kCreate + 30);
  log += LogEntry({{"09", "action", "succeed"}}, kCreate + 40);  // no such branch
  CHECK(LogEntry({}, kCreate).empty());
  absl::StatusOr<std::vector<TransBranch>> read =
      DecodeBranches("g2", column, log, kCreate);
  REQUIRE(read.ok());
  CHECK((*read)[0].status == "succeed");
  CHECK((*read)[0].update_time == FromMillis(kCreate + 10));
  CHECK((*read)[0].finish_time == FromMillis(kCreate + 10));
  CHECK((*read)[1].status == "failed");
  CHECK((*read)[1].update_time == FromMillis(kCreate + 20));
  CHECK((*read)[2].status == "odd-status");  // spelled out, read back whole
}

TEST_CASE("unreadable columns are an error naming the transaction, never a crash") {
  const std::string good = EncodeBranches(
      {Branch("01", "action", "{}"), Branch("02", "action", "{}")}, kCreate, true);
  // Every truncation of a good column, and a few hostile ones.
  for (size_t n = 0; n < good.size(); ++n) {
    absl::StatusOr<std::vector<TransBranch>> read =
        DecodeBranches("g3", good.substr(0, n), "", kCreate);
    if (!read.ok()) {
      CHECK(absl::IsInternal(read.status()));
      CHECK(read.status().message().find("g3") != std::string::npos);
    }
  }
  CHECK(absl::IsInternal(DecodeBranches("g3", "", "", kCreate).status()));
  CHECK(absl::IsInternal(DecodeBranches("g3", "\x02", "", kCreate).status()));
  CHECK(absl::IsInternal(
      DecodeBranches("g3",
                     std::string("\x01\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12),
                     "", kCreate)
          .status()));
  // A first record that claims the previous payload.
  CHECK(absl::IsInternal(
      DecodeBranches("g3", std::string("\x01\x01", 2), "", kCreate).status()));
  for (const char* log : {"x|01 a s;", "17|01 a;", "17;", "17|01 a s s;"}) {
    INFO(log);
    CHECK(absl::IsInternal(DecodeBranches("g3", good, log, kCreate).status()));
  }
}

TEST_CASE("names that the log cannot hold are refused before anything is written") {
  auto results = [](std::vector<BranchUpdate> r) { return CheckBranchResults("g4", r); };
  CHECK(results({{"01", "action", "succeed"}, {"a.b-c_9", "confirm", "failed"}}).ok());
  CHECK(results({{"1", "xy", "zz"}}).ok());  // one-character branch ids are fine
  for (const BranchUpdate& bad :
       std::vector<BranchUpdate>{{"0 1", "action", "succeed"},
                                 {"01", "act;ion", "succeed"},
                                 {"01", "action", "succ|eed"},
                                 {"01", "action", "a,b"},
                                 {"", "action", "succeed"},
                                 {"01", "a", "succeed"},  // would read back as "action"
                                 {"01", "action", "s"}}) {
    INFO(bad.branch_id << " " << bad.op << " " << bad.status);
    absl::Status refused = results({bad});
    CHECK(absl::IsInvalidArgument(refused));
    CHECK(refused.message().find("g4") != std::string::npos);
  }
  // A branch that could be stored but never updated is refused when stored.
  TransBranch one_letter = Branch("01", "a", "{}");
  CHECK(absl::IsInvalidArgument(CheckBranchRows("g4", {one_letter})));
  CHECK(CheckBranchRows("g4", {Branch("01", "action", "{}")}).ok());
}

TEST_CASE("times far from the transaction's wrap instead of overflowing") {
  TransBranch b = Branch("01", "action", "{}");
  b.create_time = absl::InfinitePast();
  const std::string column = EncodeBranches({b}, kCreate, true);
  absl::StatusOr<std::vector<TransBranch>> read =
      DecodeBranches("g5", column, "", kCreate);
  REQUIRE(read.ok());
  CHECK(read->size() == 1);
  // A hostile delta of 2^63 decodes to some time, not to undefined behaviour.
  std::string hostile =
      std::string("\x01\x00\x00\x00\x02\x30\x31\x01\x61\x02\x70\x70", 12);
  hostile += std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
  CHECK(DecodeBranches("g5", hostile, "", kCreate).ok());
}

TEST_CASE("row ids grow with time, differ within a millisecond, and stay below 2^53") {
  long long last = 0;
  for (int i = 0; i < 100; ++i) {
    const long long id = NewRowId(kCreate + i);
    CHECK(id > last);
    CHECK(id < (1LL << 53));
    last = id;
  }
  CHECK(NewRowId(kCreate) != NewRowId(kCreate));
}

}  // namespace
}  // namespace dtx::internal
