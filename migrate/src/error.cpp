#include <xgate/migrate/error.hpp>

namespace xgate::migrate {

const char* to_string(migrate_errc code) noexcept {
  switch (code) {
    case migrate_errc::unknown_job: return "unknown_job";
    case migrate_errc::unknown_job_type: return "unknown_job_type";
    case migrate_errc::incompatible_version: return "incompatible_version";
    case migrate_errc::stale_epoch: return "stale_epoch";
    case migrate_errc::bad_checkpoint: return "bad_checkpoint";
    case migrate_errc::unknown_node: return "unknown_node";
    case migrate_errc::access_denied: return "access_denied";
    case migrate_errc::wrong_state: return "wrong_state";
    case migrate_errc::not_here: return "not_here";
    case migrate_errc::bad_argument: return "bad_argument";
    case migrate_errc::job_failed: return "job_failed";
  }
  return "?";
}

namespace {
// xgate::errc has no migration code yet; the nearest existing one keeps generic handlers
// (exit codes, HTTP statuses) meaningful.
xgate::errc nearest(migrate_errc c) {
  switch (c) {
    case migrate_errc::unknown_job_type: return xgate::errc::unknown_type;
    case migrate_errc::incompatible_version: return xgate::errc::version_too_new;
    case migrate_errc::bad_checkpoint: return xgate::errc::signature_invalid;
    case migrate_errc::access_denied: return xgate::errc::access_denied;
    case migrate_errc::bad_argument: return xgate::errc::bad_value;
    case migrate_errc::unknown_node: return xgate::errc::key_error;
    default: return xgate::errc::store_failure;
  }
}

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
    : xgate::error(nearest(code), compose(job, detail)), code_(code), job_(job), detail_(detail) {}

}  // namespace xgate::migrate
