#include "dtx/gid.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>

#include "absl/strings/ascii.h"

namespace dtx {
namespace {

// base32hex keeps the numeric order of fixed-width numbers in ASCII order.
constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuv";
constexpr int kSequenceBits = 20;  // 1M gids per millisecond before borrowing ahead

void AppendBase32(uint64_t value, int width, std::string* out) {
  for (int i = width - 1; i >= 0; --i) out->push_back(kDigits[(value >> (5 * i)) & 31]);
}

struct NodeId {
  std::mutex mu;
  pid_t pid = -1;
  std::string text;  // 16 characters, 80 random bits
};

NodeId& Node() {
  static NodeId node;
  return node;
}

std::string CurrentNodeText() {
  NodeId& node = Node();
  std::lock_guard<std::mutex> lock(node.mu);
  pid_t pid = getpid();
  if (node.pid != pid) {  // first use, or a forked child that must not repeat its parent
    std::random_device device;
    std::seed_seq seed{device(),
                       device(),
                       device(),
                       device(),
                       static_cast<unsigned>(pid),
                       static_cast<unsigned>(
                           std::chrono::steady_clock::now().time_since_epoch().count())};
    std::mt19937_64 rng(seed);
    node.text.clear();
    AppendBase32(rng() >> 24, 8, &node.text);  // 40 bits
    AppendBase32(rng() >> 24, 8, &node.text);  // 40 bits
    node.pid = pid;
  }
  return node.text;
}

std::atomic<uint64_t> last_tick{0};

uint64_t NextTick() {
  const uint64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  const uint64_t candidate = now_ms << kSequenceBits;
  uint64_t last = last_tick.load(std::memory_order_relaxed);
  uint64_t next;
  do {
    next = candidate > last ? candidate : last + 1;
  } while (!last_tick.compare_exchange_weak(last, next, std::memory_order_relaxed));
  return next;
}

}  // namespace

std::string GidGenerator::Next() {
  std::string gid;
  gid.reserve(30);
  AppendBase32(NextTick(), 13, &gid);  // 65 bits of room for a 64-bit tick
  gid.push_back('-');
  gid += CurrentNodeText();
  return gid;
}

bool IsValidGid(std::string_view gid) {
  if (gid.empty() || gid.size() > 128) return false;
  for (char c : gid) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) continue;
    if (c == '-' || c == '_' || c == '.' || c == '~' || c == ':') continue;
    return false;
  }
  return true;
}

}  // namespace dtx
