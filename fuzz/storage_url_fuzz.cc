// Fuzz target: a storage URL (dtxd --store, SociStoreOptions::url) read into SOCI's
// backend and connect string, and the same URL with its password redacted.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dtx/soci/storage_url.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string url(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<dtx::StorageTarget> target = dtx::ParseStorageUrl(url);
  if (target.ok() && target->backend != "sqlite3" && target->backend != "postgresql" &&
      target->backend != "mysql") {
    __builtin_trap();
  }
  const std::string redacted = dtx::RedactedUrl(url);
  if (redacted.size() > url.size() + 3) __builtin_trap();
  return 0;
}
