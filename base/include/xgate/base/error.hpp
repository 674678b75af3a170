// xgate's error model (docs/errors.md tells it whole):
//   - Every failure is thrown as an xgate::error (or a class derived from it that adds where
//     it happened: decode_error, store_error, channel_error, migrate_error, ...). Catch
//     xgate::error to catch them all.
//   - error::code() is a std::error_code in its module's category: xgate::errc (the codec),
//     store::store_errc, channel::channel_errc, migrate::migrate_errc. Compare it with any of
//     them: `e.code() == store::store_errc::conflict`.
//   - Every code maps to one xgate::condition that says what a caller does about it; compare
//     with those to handle a kind of failure whichever module raised it:
//     `e.code() == xgate::condition::unavailable`. error::retryable() is the short answer.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace xgate {

// What a caller should do about a failure. Only unavailable and conflict are worth a retry.
enum class condition {
  invalid_input = 1,    // the input is wrong (malformed XML, a bad name, an unknown type): fix it; a retry fails again
  not_found,            // what was named does not exist (a document, a job, a method)
  conflict,             // lost a race (compare-and-set, an epoch that moved on): read again, then retry
  access_denied,        // the principal or its credential lacks the right: a retry fails again
  too_large,            // beyond a limit (size, depth, a budget): only a smaller request can succeed
  failed_precondition,  // not allowed in the current state (a running job, no lease, lost history): change it first
  unavailable,          // a peer, the network or a queue is down, busy or slow: retry with backoff
  internal,             // the engine, the disk or a system call failed: an operator has to look
};

[[nodiscard]] const char* to_string(condition c) noexcept;  // "invalid_input", ...
[[nodiscard]] const std::error_category& condition_category() noexcept;
[[nodiscard]] std::error_condition make_error_condition(condition c) noexcept;

// Whether an operation that failed with code may succeed when simply tried again: its
// condition is unavailable or conflict.
[[nodiscard]] bool retryable(const std::error_code& code) noexcept;

class error : public std::runtime_error {
 public:
  error(std::error_code code, const std::string& message) : std::runtime_error(message), code_(code) {}
  [[nodiscard]] std::error_code code() const noexcept { return code_; }
  [[nodiscard]] bool retryable() const noexcept { return xgate::retryable(code_); }

 private:
  std::error_code code_;
};

// The category of each xgate code enum: a table of (value, name, condition, meaning). The
// name is how the code travels on the wire and in logs ("conflict"); the meaning is
// std::error_code::message(), one line like each error code of lmdb.h.
class code_category : public std::error_category {
 public:
  struct entry {
    int value;
    const char* name;
    xgate::condition condition;
    const char* meaning;
  };
  code_category(const char* name, std::vector<entry> entries) : name_(name), entries_(std::move(entries)) {}
  const char* name() const noexcept override { return name_; }
  std::string message(int value) const override;
  std::error_condition default_error_condition(int value) const noexcept override;
  // The code's name ("conflict"); "unknown" for a value the table lacks.
  [[nodiscard]] const char* code_name(int value) const noexcept;
  // The inverse of code_name.
  [[nodiscard]] std::optional<int> value_of(std::string_view name) const noexcept;
  template <class Enum>
  [[nodiscard]] std::optional<Enum> value_as(std::string_view name) const noexcept {
    if (auto v = value_of(name)) return static_cast<Enum>(*v);
    return std::nullopt;
  }

 private:
  const entry* find(int value) const noexcept;
  const char* name_;
  std::vector<entry> entries_;
};

// The name of an xgate code ("conflict"); for a code of another category, its message.
[[nodiscard]] std::string code_name(const std::error_code& code);

// Failures of talking to another process over the network, for the clients that do (the
// HTTP client; the channel has its own channel_errc).
enum class net_errc {
  unreachable = 1,  // the address does not resolve, the connection is refused or broke
  timed_out,        // no answer within the configured time
  busy,             // the server answered that it is overloaded (HTTP 429, 502, 503, 504)
  bad_response,     // an answer that is not the protocol's
  bad_address,      // an address that is not one of the accepted forms
  bad_request,      // a request that cannot be expressed on the wire
  insecure,         // TLS refused the peer: its certificate (untrusted, expired, another host), no
                    // protocol in common, or one side not speaking TLS
};

}  // namespace xgate

template <>
struct std::is_error_condition_enum<xgate::condition> : std::true_type {};
template <>
struct std::is_error_code_enum<xgate::net_errc> : std::true_type {};

namespace xgate {
[[nodiscard]] const code_category& net_category() noexcept;  // "xgate.net"
[[nodiscard]] inline std::error_code make_error_code(net_errc code) noexcept {
  return {static_cast<int>(code), net_category()};
}
[[nodiscard]] const char* to_string(net_errc code) noexcept;  // "unreachable", ...
}  // namespace xgate
