// Fuzz target: a submit body as dtxd's HTTP API reads it (TransGlobalFromJson), and
// what the coordinator does with an accepted one (the saga's orders, its JSON again).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dtx/transaction.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<dtx::TransGlobal> global = dtx::TransGlobalFromJson(text);
  if (!global.ok()) return 0;
  absl::StatusOr<dtx::SagaOrders> orders =
      dtx::ParseSagaOrders(global->custom_data, static_cast<int>(global->steps.size()));
  if (orders.ok()) {
    dtx::Predecessors(*orders, static_cast<int>(global->steps.size()));
  }
  absl::StatusOr<std::string> again = dtx::TransGlobalToJson(*global);
  if (again.ok()) {
    // What was accepted once is accepted again, as the same transaction.
    absl::StatusOr<dtx::TransGlobal> reread = dtx::TransGlobalFromJson(*again);
    if (!reread.ok() || reread->gid != global->gid ||
        reread->steps.size() != global->steps.size()) {
      __builtin_trap();
    }
  }
  return 0;
}
