#include <xgate/migrate/error.hpp>

namespace xgate::migrate {

const xgate::code_category& migrate_category() noexcept {
#define E(c) static_cast<int>(migrate_errc::c)
  static const xgate::code_category category("xgate.migrate", {
      {E(unknown_job), "unknown_job", condition::not_found, "no job under that id"},
      {E(unknown_job_type), "unknown_job_type", condition::not_found, "the node does not host the job's type"},
      {E(incompatible_version), "incompatible_version", condition::failed_precondition, "the node hosts another version of the type and cannot resume this one"},
      {E(stale_epoch), "stale_epoch", condition::conflict, "a node acted on a job whose epoch moved on (or a checkpoint older than the record)"},
      {E(bad_checkpoint), "bad_checkpoint", condition::access_denied, "a checkpoint that does not verify (signature, tampering) or does not decode"},
      {E(unknown_node), "unknown_node", condition::not_found, "a checkpoint's signer (or a move's target) the store knows no key for"},
      {E(access_denied), "access_denied", condition::access_denied, "the principal lacks the job right the operation needs"},
      {E(wrong_state), "wrong_state", condition::failed_precondition, "e.g. resume of a running job, move of a suspended one, result of a running one"},
      {E(not_here), "not_here", condition::failed_precondition, "the job is not running on this node"},
      {E(bad_argument), "bad_argument", condition::invalid_input, "a missing or malformed job argument"},
      {E(job_failed), "job_failed", condition::internal, "the job's body threw; the message carries what it threw"},
      {E(bad_job_library), "bad_job_library", condition::failed_precondition, "a job library that cannot be loaded, was built against another xgate version or ABI, or brings a type the node has"},
  });
#undef E
  return category;
}

const char* to_string(migrate_errc code) noexcept { return migrate_category().code_name(static_cast<int>(code)); }

std::optional<migrate_errc> migrate_errc_from_string(std::string_view name) noexcept {
  return migrate_category().value_as<migrate_errc>(name);
}

namespace {
std::string compose(std::string_view job, std::string_view detail) {
  std::string m = "migrate: ";
  if (!job.empty()) {
    m += "job \"";
    m += job;
    m += "\": ";
  }
  m += detail;
  return m;
}
}  // namespace

migrate_error::migrate_error(migrate_errc code, std::string_view job, std::string_view detail)
    : xgate::error(code, compose(job, detail)), job_(job), detail_(detail) {}

}  // namespace xgate::migrate
