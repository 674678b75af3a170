// Typed migration errors. Every refusal of the runtime is a migrate_error whose code says
// why and whose message names the job (or node) and what was refused:
//   migrate: job "j-5f3a": node "B" does not host job type "word-count"
//   migrate: job "j-5f3a": checkpoint of node "A" refused: the job is at epoch 3 on node "B", A held epoch 2
// Failures of the store underneath pass through as xgate::store::store_error.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <system_error>

#include <xgate/xmlcodec/error.hpp>

namespace xgate::migrate {

enum class migrate_errc {
  unknown_job = 1,       // no job under that id
  unknown_job_type,      // the node does not host the job's type
  incompatible_version,  // the node hosts another version of the type and cannot resume this one
  stale_epoch,           // a node acted on a job whose epoch moved on (or a checkpoint older than the record)
  bad_checkpoint,        // a checkpoint that does not verify (signature, tampering) or does not decode
  unknown_node,          // a checkpoint's signer (or a move's target) the store knows no key for
  access_denied,         // the principal lacks the job right the operation needs
  wrong_state,           // e.g. resume of a running job, move of a suspended one, result of a running one
  not_here,              // the job is not running on this node
  bad_argument,          // a missing or malformed job argument
  job_failed,            // the job's body threw; the message carries what it threw
  bad_job_library,       // a job library (--jobs) that cannot be loaded, is another xgate version or ABI, or clashes
};
}  // namespace xgate::migrate

template <>
struct std::is_error_code_enum<xgate::migrate::migrate_errc> : std::true_type {};

namespace xgate::migrate {

// The category of migrate_errc ("xgate.migrate"); each code's condition: docs/errors.md.
[[nodiscard]] const xgate::code_category& migrate_category() noexcept;
[[nodiscard]] inline std::error_code make_error_code(migrate_errc code) noexcept {
  return {static_cast<int>(code), migrate_category()};
}

[[nodiscard]] const char* to_string(migrate_errc code) noexcept;  // "unknown_job", ...
[[nodiscard]] std::optional<migrate_errc> migrate_errc_from_string(std::string_view name) noexcept;  // the inverse

// An xgate::error whose code() is a migrate_errc (compare: `e.code() == migrate_errc::stale_epoch`).
class migrate_error : public xgate::error {
 public:
  // what(): "migrate: job \"JOB\": DETAIL" ("migrate: DETAIL" without a job).
  migrate_error(migrate_errc code, std::string_view job, std::string_view detail);
  // code() as the migrate_errc it always is, for a switch or to_string.
  [[nodiscard]] migrate_errc reason() const noexcept { return static_cast<migrate_errc>(code().value()); }
  const std::string& job() const noexcept { return job_; }
  const std::string& detail() const noexcept { return detail_; }

 private:
  std::string job_, detail_;
};

}  // namespace xgate::migrate
