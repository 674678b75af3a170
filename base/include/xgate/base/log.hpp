// One log for every daemon (xgated, its hub, node daemons, relay agents): one line per event,
// whole under concurrency, with a level and the component that speaks.
//
//   xgate::logger log(std::cerr, xgate::log_format::json, xgate::log_level::info);
//   log.write(xgate::log_level::info, "hub", "login: alice/n1 as alice", {{"endpoint", "alice/n1"}});
//
// text (the default, for people): TIME LEVEL COMPONENT: MESSAGE
//   2026-12-03T06:30:00.123Z info hub: login: alice/n1 as alice (credential c-1, tcp 127.0.0.1:40112)
// json (for collectors): one object per line,
//   {"time":"2026-12-03T06:30:00.123Z","level":"info","component":"hub","message":"login: ...",
//    "fields":{"endpoint":"alice/n1"}}
// Fields are for machines: the text line carries the message alone, which says it all.
// Callers never pass a token or a document body: messages and fields name, they do not quote.
#pragma once

#include <signal.h>

#include <concepts>
#include <functional>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace xgate {

enum class log_level { debug, info, warning, error };
enum class log_format { text, json };

[[nodiscard]] const char* to_string(log_level l) noexcept;  // "debug", "info", "warning", "error"
[[nodiscard]] const char* to_string(log_format f) noexcept;  // "text", "json"
[[nodiscard]] std::optional<log_level> parse_log_level(std::string_view text) noexcept;
[[nodiscard]] std::optional<log_format> parse_log_format(std::string_view text) noexcept;

// A key and a value; integers are JSON numbers, everything else a string.
struct log_field {
  log_field(std::string_view k, std::string v) : key(k), value(std::move(v)) {}
  log_field(std::string_view k, std::string_view v) : key(k), value(v) {}
  log_field(std::string_view k, const char* v) : key(k), value(v) {}
  template <std::integral T>
  log_field(std::string_view k, T v) : key(k), value(std::to_string(v)), number(true) {}

  std::string_view key;
  std::string value;
  bool number = false;
};

class logger {
 public:
  // To a stream the caller keeps alive (std::cerr; a std::ostringstream in tests).
  explicit logger(std::ostream& out, log_format format = log_format::text, log_level min = log_level::info);
  // To a file, appended to and created mode 0600; reopen() opens the path again (after
  // logrotate moved the file away). std::system_error naming the file when it cannot be opened.
  logger(std::filesystem::path file, log_format format = log_format::text, log_level min = log_level::info);
  logger(const logger&) = delete;
  logger& operator=(const logger&) = delete;

  [[nodiscard]] bool enabled(log_level l) const noexcept { return l >= min_; }
  // One line; nothing below the minimum level. Thread-safe; never throws (a failed write is
  // dropped: logging must not take the service down).
  void write(log_level level, std::string_view component, std::string_view message,
             std::initializer_list<log_field> fields = {}) noexcept;
  // For a file: closes and opens the path again (SIGHUP). std::system_error when it cannot;
  // the old file is kept then. For a stream: nothing.
  void reopen();

  [[nodiscard]] log_format format() const noexcept { return format_; }
  [[nodiscard]] const std::filesystem::path& file() const noexcept { return path_; }  // "" for a stream
  [[nodiscard]] log_level min_level() const noexcept { return min_; }

 private:
  std::mutex mutex_;
  std::ostream* out_;
  std::ofstream file_;
  std::filesystem::path path_;
  log_format format_;
  log_level min_;
};

// What a daemon's --log-level, --log-format and --log-file say, made into its logger: to the
// file when one is given, else to stderr. std::invalid_argument naming the flag for a level
// or format that is not one; std::system_error for a file that cannot be opened.
struct log_settings {
  std::string level = "info";   // debug, info, warning, error
  std::string format = "text";  // text, json
  std::string file;             // "" = stderr
};
[[nodiscard]] std::unique_ptr<logger> open_logger(const log_settings& settings);
// The settings checked (std::invalid_argument naming the flag), no file opened.
void check_log_settings(const log_settings& settings);

// --log-level, --log-format, --log-file on a CLI11 command (CLI::App): what every daemon takes.
template <class Command>
void add_log_flags(Command& command, log_settings& s) {
  command.add_option("--log-level", s.level, "The least level logged: debug, info (default), warning, error")->type_name("LEVEL");
  command.add_option("--log-format", s.format,
                     "text (default: TIME LEVEL COMPONENT: MESSAGE) or json (one object per line: time, level, "
                     "component, message, fields)")
      ->type_name("FORMAT");
  command.add_option("--log-file", s.file, "Log to this file (created 0600, appended; reopened on SIGHUP), not stderr")
      ->type_name("FILE");
}

// SIGINT, SIGTERM and SIGHUP blocked in the calling thread, and so in every thread it starts
// afterwards (call it before any): the set, for wait_for_stop, which takes them with sigwait.
[[nodiscard]] sigset_t block_daemon_signals();

// A daemon's main thread after start: waits for SIGINT or SIGTERM (blocked by
// block_daemon_signals before any thread started, as SIGHUP). On each SIGHUP reopens `log`'s file and calls reload
// (certificates); a failure is logged as an error and the daemon goes on as it was. Returns
// the signal that ended the wait.
int wait_for_stop(const sigset_t& signals, logger& log, std::string_view component,
                  const std::function<void()>& reload = nullptr);

// `text` as a JSON string's contents: quotes, backslashes and control characters escaped,
// bytes that are not UTF-8 as U+FFFD.
void append_json_string(std::string& out, std::string_view text);

}  // namespace xgate
