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

// The spellings of dtx/transaction.h, as absl::string_view.
constexpr absl::string_view A(std::string_view s) { return {s.data(), s.size()}; }

constexpr std::array<std::pair<Status, absl::string_view>, 5> kStatuses = {{
    {Status::kPrepared, A(kStatusPrepared)},
    {Status::kSubmitted, A(kStatusSubmitted)},
    {Status::kAborting, A(kStatusAborting)},
    {Status::kSucceed, A(kStatusSucceed)},
    {Status::kFailed, A(kStatusFailed)},
}};

constexpr std::array<std::pair<Op, absl::string_view>, 4> kOps = {{
    {Op::kAction, A(kOpAction)},
    {Op::kCompensate, A(kOpCompensate)},
    {Op::kConfirm, A(kOpConfirm)},
    {Op::kCancel, A(kOpCancel)},
}};

constexpr std::array<std::pair<Mode, absl::string_view>, 3> kModes = {{
    {Mode::kSaga, A(kTransTypeSaga)},
    {Mode::kTcc, A(kTransTypeTcc)},
    {Mode::kMsg, A(kTransTypeMsg)},
}};

}  // namespace

std::optional<Status> ParseStatus(absl::string_view name) {
  return Find(kStatuses, name);
}
absl::string_view Name(Status status) { return Spell(kStatuses, status); }
std::optional<Op> ParseOp(absl::string_view name) { return Find(kOps, name); }
absl::string_view Name(Op op) { return Spell(kOps, op); }
std::optional<Mode> ParseMode(absl::string_view trans_type) {
  return Find(kModes, trans_type);
}

}  // namespace dtx::engine
