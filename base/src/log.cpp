#include <xgate/base/log.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <iostream>
#include <stdexcept>
#include <system_error>

#include <xgate/base/time.hpp>

namespace xgate {

const char* to_string(log_level l) noexcept {
  switch (l) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warning: return "warning";
    case log_level::error: return "error";
  }
  return "info";
}

const char* to_string(log_format f) noexcept { return f == log_format::json ? "json" : "text"; }

std::optional<log_level> parse_log_level(std::string_view text) noexcept {
  for (log_level l : {log_level::debug, log_level::info, log_level::warning, log_level::error})
    if (text == to_string(l)) return l;
  return std::nullopt;
}

std::optional<log_format> parse_log_format(std::string_view text) noexcept {
  if (text == "text") return log_format::text;
  if (text == "json") return log_format::json;
  return std::nullopt;
}

namespace {

// The length of the UTF-8 sequence at s[i], 0 when it is not one (overlong forms,
// surrogates and values past U+10FFFF included).
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  std::size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
  if (n == 0 || c > 0xf4 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((b(i + k) & 0xc0) != 0x80) return 0;
  if (c == 0xe0 && b(i + 1) < 0xa0) return 0;  // overlong
  if (c == 0xed && b(i + 1) >= 0xa0) return 0;  // surrogates
  if (c == 0xf0 && b(i + 1) < 0x90) return 0;  // overlong
  if (c == 0xf4 && b(i + 1) >= 0x90) return 0;  // past U+10FFFF
  return n;
}

void open_file(std::ofstream& f, const std::filesystem::path& path) {
  // Created 0600: a log names principals and addresses.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "log file " + path.string());
  ::close(fd);
  f.open(path, std::ios::app | std::ios::binary);
  if (!f) throw std::system_error(EIO, std::generic_category(), "log file " + path.string());
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x20) {
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default: out += "\\u00"; out += hex[c >> 4]; out += hex[c & 15];
      }
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else if (std::size_t n = utf8_length(text, i)) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
}

logger::logger(std::ostream& out, log_format format, log_level min) : out_(&out), format_(format), min_(min) {}

logger::logger(std::filesystem::path file, log_format format, log_level min)
    : out_(&file_), path_(std::move(file)), format_(format), min_(min) {
  open_file(file_, path_);
}

void logger::write(log_level level, std::string_view component, std::string_view message,
                   std::initializer_list<log_field> fields) noexcept {
  if (!enabled(level)) return;
  try {
    std::string line;
    line.reserve(96 + message.size());
    const std::string time = format_utc(std::chrono::system_clock::now());
    if (format_ == log_format::text) {
      line.append(time).append(" ").append(to_string(level)).append(" ").append(component).append(": ");
      // One event, one line: a message never breaks it.
      for (char c : message) line += c == '\n' || c == '\r' ? ' ' : c;
    } else {
      line.append("{\"time\":\"").append(time).append("\",\"level\":\"").append(to_string(level)).append("\",\"component\":\"");
      append_json_string(line, component);
      line.append("\",\"message\":\"");
      append_json_string(line, message);
      line += '"';
      if (fields.size() > 0) {
        line.append(",\"fields\":{");
        bool first = true;
        for (const log_field& f : fields) {
          if (!first) line += ',';
          first = false;
          line += '"';
          append_json_string(line, f.key);
          line.append("\":");
          if (f.number) {
            line.append(f.value);
          } else {
            line += '"';
            append_json_string(line, f.value);
            line += '"';
          }
        }
        line += '}';
      }
      line += '}';
    }
    line += '\n';
    std::lock_guard lock(mutex_);
    out_->write(line.data(), static_cast<std::streamsize>(line.size()));
    out_->flush();
  } catch (...) {
    // no memory or a failed stream: the event is lost, the service goes on
  }
}

void check_log_settings(const log_settings& s) {
  if (!parse_log_level(s.level))
    throw std::invalid_argument("--log-level: \"" + s.level + "\" is not one of debug, info, warning, error");
  if (!parse_log_format(s.format)) throw std::invalid_argument("--log-format: \"" + s.format + "\" is not text or json");
}

std::unique_ptr<logger> open_logger(const log_settings& s) {
  check_log_settings(s);
  const log_format format = *parse_log_format(s.format);
  const log_level level = *parse_log_level(s.level);
  if (s.file.empty()) return std::make_unique<logger>(std::cerr, format, level);
  return std::make_unique<logger>(std::filesystem::path(s.file), format, level);
}

sigset_t block_daemon_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int wait_for_stop(const sigset_t& signals, logger& log, std::string_view component, const std::function<void()>& reload) {
  int sig = 0;
  while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
    if (!log.file().empty()) {
      try {
        log.reopen();
        log.write(log_level::info, component, "SIGHUP: log file " + log.file().string() + " reopened");
      } catch (const std::exception& e) {
        log.write(log_level::error, component, std::string("SIGHUP: ") + e.what() + "; logging on to the old file");
      }
    }
    if (reload) {
      try {
        reload();
      } catch (const std::exception& e) {
        log.write(log_level::error, component, std::string("SIGHUP: ") + e.what() + "; serving with the old certificate");
      }
    }
  }
  return sig;
}

void logger::reopen() {
  if (path_.empty()) return;
  std::ofstream fresh;
  open_file(fresh, path_);
  std::lock_guard lock(mutex_);
  file_.close();
  file_ = std::move(fresh);
}

}  // namespace xgate
