#include "dtx/log.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace dtx {
namespace {

// `text` in double quotes with " \\ \n \r \t escaped, and other control bytes as
// \u00XX (JSON) or \xXX (key=value, which escapes DEL too).
void AppendQuoted(std::string& line, std::string_view text, bool json) {
  line.push_back('"');
  for (char c : text) {
    switch (c) {
      case '"':
        line.append("\\\"");
        break;
      case '\\':
        line.append("\\\\");
        break;
      case '\n':
        line.append("\\n");
        break;
      case '\r':
        line.append("\\r");
        break;
      case '\t':
        line.append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || (!json && c == 0x7f)) {
          const int byte = static_cast<unsigned char>(c);
          if (json) {
            absl::StrAppendFormat(&line, "\\u%04x", byte);
          } else {
            absl::StrAppendFormat(&line, "\\x%02x", byte);
          }
        } else {
          line.push_back(c);
        }
    }
  }
  line.push_back('"');
}

// A key=value value: bare when it is a plain word, else quoted.
void AppendValue(std::string& line, std::string_view value) {
  const bool bare = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return absl::ascii_isgraph(static_cast<unsigned char>(c)) && c != '"' && c != '=' &&
           c != '\\';
  });
  if (bare) {
    line.append(value);
  } else {
    AppendQuoted(line, value, /*json=*/false);
  }
}

// `text` as a JSON string. ASCII is escaped here (a record is written on the
// coordinator's working threads: this is ~10x cheaper than building a JSON document);
// text with bytes past ASCII goes through nlohmann, which replaces invalid UTF-8.
void AppendJsonString(std::string& line, std::string_view text) {
  const bool ascii = std::all_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x80;
  });
  if (ascii) return AppendQuoted(line, text, /*json=*/true);
  line.append(nlohmann::json(std::string(text))
                  .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// "2026-11-30T16:34:09.640Z", the formatting of the second kept per thread.
std::string Timestamp() {
  const int64_t ms = absl::ToUnixMillis(absl::Now());
  thread_local int64_t second = -1;
  thread_local std::string formatted;
  if (ms / 1000 != second) {
    second = ms / 1000;
    formatted = absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(second),
                                 absl::UTCTimeZone());
  }
  return absl::StrFormat("%s.%03dZ", formatted, ms % 1000);
}

}  // namespace

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "error";
}

absl::StatusOr<LogLevel> ParseLogLevel(std::string_view name) {
  for (LogLevel level :
       {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (name == LogLevelName(level)) return level;
  }
  if (name == "warning") return LogLevel::kWarn;
  return absl::InvalidArgumentError(
      "log level must be debug, info, warn or error, not '" +
      std::string(name.substr(0, 32)) + "'");
}

void StreamLogger::Log(LogLevel level, std::string_view event,
                       std::span<const LogField> fields) {
  if (!Enabled(level)) return;
  const std::string time = Timestamp();
  std::string line;
  if (format_ == LogFormat::kJsonLines) {
    line.append("{\"time\":\"").append(time).append("\",\"level\":\"");
    line.append(LogLevelName(level)).append("\",\"event\":");
    AppendJsonString(line, event);
    for (const LogField& f : fields) {
      line.push_back(',');
      AppendJsonString(line, f.key);
      line.push_back(':');
      AppendJsonString(line, f.value);
    }
    line.push_back('}');
  } else {
    line.append("time=").append(time).append(" level=");
    line.append(LogLevelName(level)).append(" event=");
    AppendValue(line, event);
    for (const LogField& f : fields) {
      line.append(" ").append(f.key).append("=");
      AppendValue(line, f.value);
    }
  }
  line.push_back('\n');
  absl::MutexLock lock(&mu_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

Logger* StreamLogger::Default() {
  static Logger* const logger = new StreamLogger(LogFormat::kKeyValue, LogLevel::kWarn);
  return logger;
}

}  // namespace dtx
