#include "engine/state.h"

#include <array>
#include <utility>

namespace dtx::engine {
namespace {

template <typename E, size_t N>
std::optional<E> Find(const std::array<std::pair<E, absl::string_view>, N>& names,
                      absl::string_view name) {
  for (const auto& [value, spelling] : names) {
    if (spelling == name) return value;
  }
  return std::nullopt;
}

template <typename E, size_t N>
absl::string_view Spell(const std::array<std::pair<E, absl::string_view>, N>& names,
                       E value) {
  for (const auto& [v, spelling] : names) {
    if (v == value) return spelling;
  }
  return "?";
}

constexpr std::array<std::pair<Status, absl::string_view>, 5> kStatuses = {{
    {Status::kPrepared, "prepared"},
    {Status::kSubmitted, "submitted"},
    {Status::kAborting, "aborting"},
    {Status::kSucceed, "succeed"},
    {Status::kFailed, "failed"},
}};

constexpr std::array<std::pair<Op, absl::string_view>, 4> kOps = {{
    {Op::kAction, "action"},
    {Op::kCompensate, "compensate"},
    {Op::kConfirm, "confirm"},
    {Op::kCancel, "cancel"},
}};

constexpr std::array<std::pair<Mode, absl::string_view>, 3> kModes = {{
    {Mode::kSaga, "saga"},
    {Mode::kTcc, "tcc"},
    {Mode::kMsg, "msg"},
}};

}  // namespace

std::optional<Status> ParseStatus(absl::string_view name) { return Find(kStatuses, name); }
absl::string_view Name(Status status) { return Spell(kStatuses, status); }
std::optional<Op> ParseOp(absl::string_view name) { return Find(kOps, name); }
absl::string_view Name(Op op) { return Spell(kOps, op); }
std::optional<Mode> ParseMode(absl::string_view trans_type) {
  return Find(kModes, trans_type);
}

}  // namespace dtx::engine
