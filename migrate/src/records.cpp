#include <xgate/migrate/records.hpp>

#include <algorithm>
#include <cstdio>

namespace xgate::migrate {

const char* to_string(job_state s) noexcept {
  switch (s) {
    case job_state::running: return "running";
    case job_state::suspended: return "suspended";
    case job_state::done: return "done";
    case job_state::failed: return "failed";
    case job_state::killed: return "killed";
  }
  return "?";
}

job_rights job_rights::owned_by(std::string principal) {
  job_rights r;
  r.submitter = std::move(principal);
  r.read = {"creator"};
  r.write = {"creator"};
  return r;
}

bool job_rights::allows(std::string_view principal, xgate::right r) const {
  const std::vector<std::string>& list = r == xgate::right::read ? read : write;
  // Whoever may change a job may also see it.
  if (r == xgate::right::read && allows(principal, xgate::right::write)) return true;
  return std::any_of(list.begin(), list.end(), [&](const std::string& p) {
    return p == "*" || p == principal || (p == "creator" && !principal.empty() && principal == submitter);
  });
}

std::string job_name(std::string_view id) { return "jobs/" + std::string(id); }
std::string checkpoint_name(std::string_view id) { return job_name(id) + "/checkpoint"; }
std::string result_name(std::string_view id) { return job_name(id) + "/result"; }
std::string log_prefix(std::string_view id) { return job_name(id) + "/log"; }
std::string log_name(std::string_view id, std::uint64_t seq) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%010llu", static_cast<unsigned long long>(seq));  // sorts by name
  return log_prefix(id) + "/" + digits;
}
std::string node_key_name(std::string_view node) { return "nodes/" + std::string(node) + "/key"; }

}  // namespace xgate::migrate
