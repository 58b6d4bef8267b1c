// Fuzz target: a branch's answer as dtx's HTTP clients read it (ParseResponse, Beast's
// response parser under dtx's limits), arriving in pieces: the first byte picks where
// the input is cut, then the rest comes and the connection ends.
#include <cstddef>
#include <cstdint>
#include <string>

#include "http/http_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string all(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t cut = all.empty() ? 0 : data[0] % (all.size() + 1);
  dtx::internal::Parser parser;
  std::string in = all.substr(0, cut);
  std::string error;
  dtx::internal::Parsed got = dtx::internal::ParseResponse(in, parser, false, &error);
  if (got == dtx::internal::Parsed::kMore) {
    in = all;
    got = dtx::internal::ParseResponse(in, parser, true, &error);
  }
  // A finished answer stays inside the input and the limits; an error says why.
  if (got == dtx::internal::Parsed::kDone &&
      (parser.pos > in.size() || parser.body.size() > dtx::internal::kMaxBody ||
       parser.status < 200)) {
    __builtin_trap();
  }
  if (got == dtx::internal::Parsed::kError && error.empty()) __builtin_trap();
  return 0;
}
