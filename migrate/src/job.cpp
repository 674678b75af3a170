#include <xgate/migrate/job.hpp>

#include <charconv>
#include <stdexcept>

namespace xgate::migrate {

std::string job_context::arg(std::string_view key) const {
  auto it = args_->find(std::string(key));
  if (it == args_->end()) throw migrate_error(migrate_errc::bad_argument, id_, "missing argument " + std::string(key) + "=");
  return it->second;
}

std::string job_context::arg(std::string_view key, std::string_view fallback) const {
  auto it = args_->find(std::string(key));
  return it == args_->end() ? std::string(fallback) : it->second;
}

std::uint64_t job_context::arg_u64(std::string_view key, std::uint64_t fallback) const {
  auto it = args_->find(std::string(key));
  if (it == args_->end()) return fallback;
  std::uint64_t v = 0;
  const std::string& s = it->second;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty())
    throw migrate_error(migrate_errc::bad_argument, id_,
                        "argument " + std::string(key) + "=" + s + " is not a non-negative integer");
  return v;
}

namespace detail {
void refuse_argument(std::string_view job, std::string_view type, const std::vector<job_argument>& declared,
                     const std::string& key, const std::string* value, std::string_view expected) {
  if (value)
    throw migrate_error(migrate_errc::bad_argument, job,
                        "argument " + key + "=\"" + *value + "\" of " + std::string(type) + " is not " + std::string(expected));
  std::string names;
  for (const job_argument& a : declared) names += (names.empty() ? "" : ", ") + a.name;
  throw migrate_error(migrate_errc::bad_argument, job,
                      std::string(type) + " takes no argument " + key + " (" +
                          (names.empty() ? "it takes none" : "its arguments: " + names) + ")");
}
}  // namespace detail

job_registry& job_registry::global() {
  static job_registry r;
  return r;
}

void job_registry::add(job_type type) {
  std::lock_guard lock(mutex_);
  auto [it, fresh] = types_.try_emplace(type.name, type);
  if (!fresh) throw std::logic_error("xgate: job type \"" + type.name + "\" is registered twice");
}

const job_type* job_registry::find(std::string_view name) const {
  std::lock_guard lock(mutex_);
  auto it = types_.find(name);
  return it == types_.end() ? nullptr : &it->second;
}

std::vector<const job_type*> job_registry::all() const {
  std::lock_guard lock(mutex_);
  std::vector<const job_type*> out;
  for (const auto& [name, t] : types_) out.push_back(&t);
  return out;
}

const job_type& job_registry::accept(std::string_view name, unsigned version, std::string_view job,
                                     std::string_view node) const {
  const job_type* t = find(name);
  if (!t)
    throw migrate_error(migrate_errc::unknown_job_type, job,
                        "node \"" + std::string(node) + "\" does not host job type \"" + std::string(name) + "\"");
  if (version == t->version || (version < t->version && t->upgrades_older)) return *t;
  std::string why = "it is " + std::string(name) + " version " + std::to_string(version) + ", node \"" +
                    std::string(node) + "\" has version " + std::to_string(t->version);
  if (version < t->version) why += ", whose state " + t->state_type + " has no xgate_upgrade hook for older versions";
  throw migrate_error(migrate_errc::incompatible_version, job, why);
}

}  // namespace xgate::migrate
