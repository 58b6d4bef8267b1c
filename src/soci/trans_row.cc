#include "soci/trans_row.h"

#include <array>
#include <atomic>
#include <random>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "soci/sql.h"

namespace dtx::internal {
namespace {

constexpr char kVersion = 1;
constexpr uint64_t kSamePayload = 1;

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
void PutString(std::string_view s, std::string* out) {
  PutVarint(s.size(), out);
  out->append(s);
}
// Wrapping arithmetic: a time far from the transaction's (or a hostile column) must
// not overflow a signed integer.
int64_t Minus(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t Plus(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1)); }

// Reads the records of the `branches` column; every Get fails once the input is short.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool done() const { return pos_ == in_.size(); }
  size_t pos() const { return pos_; }
  bool Byte(char* c) {
    if (pos_ >= in_.size()) return false;
    *c = in_[pos_++];
    return true;
  }
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return false;
      const auto b = static_cast<unsigned char>(in_[pos_++]);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) return true;
    }
    return false;
  }
  bool String(std::string* s) {
    uint64_t n = 0;
    if (!Varint(&n) || n > in_.size() - pos_) return false;
    s->assign(in_.data() + pos_, n);
    pos_ += n;
    return true;
  }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

// dtx's ops and statuses as one letter in the log; others are spelled out.
constexpr std::array<std::pair<std::string_view, char>, 6> kOps = {{{kOpAction, 'a'},
                                                                    {kOpCompensate, 'c'},
                                                                    {kOpTry, 't'},
                                                                    {kOpConfirm, 'f'},
                                                                    {kOpCancel, 'n'},
                                                                    {kOpMsg, 'm'}}};
constexpr std::array<std::pair<std::string_view, char>, 3> kStatuses = {
    {{kStatusPrepared, 'p'}, {kStatusSucceed, 's'}, {kStatusFailed, 'f'}}};

template <size_t N>
void PutName(const std::array<std::pair<std::string_view, char>, N>& names,
             std::string_view name, std::string* out) {
  for (const auto& [full, letter] : names) {
    if (full == name) {
      out->push_back(letter);
      return;
    }
  }
  out->append(name);
}
template <size_t N>
std::string_view NameOf(const std::array<std::pair<std::string_view, char>, N>& names,
                        std::string_view written) {
  if (written.size() == 1) {
    for (const auto& [full, letter] : names) {
      if (letter == written[0]) return full;
    }
  }
  return written;
}

}  // namespace

std::string EncodeBranches(const std::vector<TransBranch>& branches, long long base_ms,
                           bool first) {
  std::string out;
  if (first) out.push_back(kVersion);
  for (size_t i = 0; i < branches.size(); ++i) {
    const TransBranch& b = branches[i];
    const bool same = i > 0 && b.bin_data == branches[i - 1].bin_data;
    PutVarint(same ? kSamePayload : 0, &out);
    PutString(b.url, &out);
    if (!same) PutString(b.bin_data, &out);
    PutString(b.branch_id, &out);
    PutString(b.op, &out);
    PutString(b.status, &out);
    PutVarint(ZigZag(Minus(ToMillis(b.create_time), base_ms)), &out);
  }
  return out;
}

std::string LogEntry(const std::vector<BranchUpdate>& results, long long now_ms) {
  if (results.empty()) return {};
  std::string out = absl::StrCat(now_ms, "|");
  for (size_t i = 0; i < results.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append(results[i].branch_id);
    out.push_back(' ');
    PutName(kOps, results[i].op, &out);
    out.push_back(' ');
    PutName(kStatuses, results[i].status, &out);
  }
  out.push_back(';');
  return out;
}

absl::StatusOr<std::vector<TransBranch>> DecodeBranches(std::string_view gid,
                                                        std::string_view branches,
                                                        std::string_view log,
                                                        long long base_ms) {
  auto unreadable = [&](std::string_view column, size_t at) {
    return absl::InternalError(absl::StrCat("transaction ", std::string(gid), ": column ",
                                            std::string(column), " unreadable at byte ",
                                            at));
  };
  std::vector<TransBranch> out;
  Reader in(branches);
  char version = 0;
  if (!in.Byte(&version) || version != kVersion) return unreadable("branches", 0);
  while (!in.done()) {
    const size_t at = in.pos();
    TransBranch& b = out.emplace_back();
    uint64_t flags = 0, created = 0;
    if (!in.Varint(&flags) || !in.String(&b.url)) return unreadable("branches", at);
    if (flags & kSamePayload) {
      if (out.size() < 2) return unreadable("branches", at);
      b.bin_data = out[out.size() - 2].bin_data;
    } else if (!in.String(&b.bin_data)) {
      return unreadable("branches", at);
    }
    if (!in.String(&b.branch_id) || !in.String(&b.op) || !in.String(&b.status) ||
        !in.Varint(&created)) {
      return unreadable("branches", at);
    }
    b.id = static_cast<int64_t>(out.size());
    b.gid = std::string(gid);
    b.create_time = b.update_time = FromMillis(Plus(base_ms, UnZigZag(created)));
  }
  size_t at = 0;
  for (absl::string_view entry : absl::StrSplit(absl::string_view(log.data(), log.size()),
                                                ';', absl::SkipEmpty())) {
    const size_t bar = entry.find('|');
    long long ms = 0;
    if (bar == absl::string_view::npos || !absl::SimpleAtoi(entry.substr(0, bar), &ms)) {
      return unreadable("branch_log", at);
    }
    const absl::Time when = FromMillis(ms);
    for (absl::string_view result : absl::StrSplit(entry.substr(bar + 1), ',')) {
      std::vector<absl::string_view> parts = absl::StrSplit(result, ' ');
      if (parts.size() != 3) return unreadable("branch_log", at);
      const std::string_view op =
          NameOf(kOps, std::string_view(parts[1].data(), parts[1].size()));
      for (TransBranch& b : out) {
        if (b.branch_id == parts[0] && b.op == op) {
          if (b.status == kStatusPrepared) {
            b.status = std::string(
                NameOf(kStatuses, std::string_view(parts[2].data(), parts[2].size())));
            b.update_time = b.finish_time = when;
          }
          break;
        }
      }
    }
    at += entry.size() + 1;
  }
  return out;
}

long long NewRowId(long long now_ms) {
  static std::atomic<uint64_t> next{std::random_device{}()};
  return now_ms * 2048 + static_cast<long long>(next.fetch_add(1) % 2048);
}

}  // namespace dtx::internal
