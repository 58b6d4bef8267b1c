// The backend the conformance suite runs against, and fresh stores and sessions on it.
#ifndef DTX_TESTS_CONFORMANCE_H_
#define DTX_TESTS_CONFORMANCE_H_

#include <soci/soci.h>

#include <memory>
#include <string>

#include "dtx/soci/soci_store.h"

namespace dtx::testing {

// "sqlite" (default), "postgresql", "mysql", or "memory" (MemoryStore; no SQL: the
// barrier cases do not apply).
std::string ConformanceBackend();
// The storage URL of that backend: a new SQLite file per call, or the server's URL
// (empty when not set).
std::string ConformanceUrl();

// A store on the backend with empty tables.
std::unique_ptr<Store> FreshStore();
// The same, a SociStore opened with `options` (their url set here).
std::unique_ptr<Store> FreshStore(SociStoreOptions options);
// A session on the backend's database (the same database FreshStore uses).
std::unique_ptr<soci::session> OpenSession();

}  // namespace dtx::testing

#endif  // DTX_TESTS_CONFORMANCE_H_
