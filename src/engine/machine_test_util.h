// Builds machine states for the table tests: no threads, sockets, store or clock.
#ifndef DTX_ENGINE_MACHINE_TEST_UTIL_H_
#define DTX_ENGINE_MACHINE_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "engine/machine.h"

namespace dtx::engine::testing {

// The creation time of every test transaction.
inline const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

inline Branch Row(int id, Op op, Status status = Status::kPrepared) {
  Branch b;
  b.branch_id = absl::StrFormat("%02d", id);
  b.op = op;
  b.status = status;
  b.url = absl::StrFormat("http://b/%s%02d", std::string(Name(op)), id);
  return b;
}

inline Trans NewTrans(Mode mode, Status status) {
  Trans t;
  t.gid = "g";
  t.mode = mode;
  t.status = status;
  t.create_time = kT0;
  return t;
}

inline std::unique_ptr<Machine> MustCreate(Trans trans, std::vector<Branch> rows) {
  absl::StatusOr<std::unique_ptr<Machine>> m =
      Machine::Create(std::move(trans), std::move(rows));
  if (!m.ok()) throw std::runtime_error(std::string(m.status().message()));
  return *std::move(m);
}

}  // namespace dtx::engine::testing

#endif  // DTX_ENGINE_MACHINE_TEST_UTIL_H_
