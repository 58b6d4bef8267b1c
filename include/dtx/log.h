// dtx::Logger: where the coordinator tells what it does. Records are structured: an
// event name and key/value fields, so that a sink can write JSON lines, key=value text
// or feed a logging library of the embedder's choice; dtx forces none on it.
//
// What the coordinator logs (CoordinatorOptions::logger):
//   info  "transaction"       gid, trans_type, from, to, reason: every change of a
//                             transaction's status (from "" when it is created)
//   info  "lease taken over"  gid, trans_type, status, from: the scan claimed a
//                             transaction whose owner's lease ran out
//   warn  "branch call"       gid, trans_type, branch_id, op, url, error: a call that
//                             answered an error (not FAILURE or ONGOING, which are
//                             answers); rate-limited per (op, error code)
//   error "pass stopped" (gid, error: the store failed under a pass, or its rows
//                             could not be read), "scan failed", "retention failed"
//   Rate-limited records carry `suppressed`: how many like it were dropped before.
#ifndef DTX_LOG_H_
#define DTX_LOG_H_

#include <cstdio>
#include <span>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace dtx {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// "debug", "info", "warn", "error".
std::string_view LogLevelName(LogLevel level);
// The inverse of LogLevelName ("warning" too); kInvalidArgument for anything else.
absl::StatusOr<LogLevel> ParseLogLevel(std::string_view name);

struct LogField {
  std::string_view key;
  std::string value;
};

// Implementations are thread-safe: records come from any thread at once.
class Logger {
 public:
  virtual ~Logger() = default;
  // Whether records at `level` are wanted; those that are not are never built.
  virtual bool Enabled(LogLevel level) const = 0;
  // One record. `event` is a fixed name (above); fields in a fixed order. Called on
  // the coordinator's working threads: keep it short.
  virtual void Log(LogLevel level, std::string_view event,
                   std::span<const LogField> fields) = 0;
};

enum class LogFormat {
  // level=warn event="branch call" gid=... (values quoted when they need it)
  kKeyValue,
  // {"time":"2026-11-30T16:00:00.123Z","level":"warn","event":"branch call","gid":..}
  kJsonLines,
};

// Writes each record as one line to `out` (not owned; default stderr), a whole line
// per write under a lock. Thread-safe.
class StreamLogger : public Logger {
 public:
  StreamLogger(LogFormat format, LogLevel min_level, std::FILE* out = stderr)
      : format_(format), min_level_(min_level), out_(out) {}

  bool Enabled(LogLevel level) const override { return level >= min_level_; }
  void Log(LogLevel level, std::string_view event,
           std::span<const LogField> fields) override;

  // The coordinator's default: key=value lines on stderr, warn and above. Lives for
  // ever.
  static Logger* Default();

 private:
  const LogFormat format_;
  const LogLevel min_level_;
  std::FILE* const out_;
  absl::Mutex mu_;
};

}  // namespace dtx

#endif  // DTX_LOG_H_
