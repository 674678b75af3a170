#include <algorithm>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <unordered_map>

#include <boost/core/demangle.hpp>

#include <xgate/xmlcodec/codec.hpp>
#include <xgate/xmlcodec/registry.hpp>

namespace xgate {

struct registry::impl {
  mutable std::shared_mutex mutex;
  std::map<std::string, detail::type_entry, std::less<>> by_name;
  std::unordered_map<std::type_index, std::string> by_type;
};

registry::registry() : impl_(std::make_unique<impl>()) {}

registry& registry::instance() {
  static registry r;
  return r;
}

void registry::add(detail::type_entry entry) {
  std::unique_lock lock(impl_->mutex);
  auto it = impl_->by_name.find(entry.name);
  if (it != impl_->by_name.end()) {
    if (it->second.type != entry.type)
      throw std::logic_error("xgate: two different types are registered under the name \"" + std::string(entry.name) + "\"");
    return;  // the same registration seen from another translation unit
  }
  auto t = impl_->by_type.find(entry.type);
  if (t != impl_->by_type.end())
    throw std::logic_error("xgate: one type is registered under two names, \"" + t->second + "\" and \"" +
                           std::string(entry.name) + "\"");
  impl_->by_type.emplace(entry.type, std::string(entry.name));
  impl_->by_name.emplace(std::string(entry.name), std::move(entry));
}

void registry::set_sample(std::type_index type, std::string (*sample)(std::uint64_t, std::size_t, const encode_options&)) {
  std::unique_lock lock(impl_->mutex);
  auto t = impl_->by_type.find(type);
  if (t == impl_->by_type.end())
    throw std::logic_error("xgate: XGATE_SAMPLE for a type that is not registered with XGATE_REGISTER (" +
                           boost::core::demangle(type.name()) + ")");
  impl_->by_name.find(t->second)->second.sample = sample;
}

const detail::type_entry* registry::find(std::string_view name) const {
  std::shared_lock lock(impl_->mutex);
  auto it = impl_->by_name.find(name);
  return it == impl_->by_name.end() ? nullptr : &it->second;
}

const detail::type_entry* registry::find(std::type_index type) const {
  std::shared_lock lock(impl_->mutex);
  auto t = impl_->by_type.find(type);
  if (t == impl_->by_type.end()) return nullptr;
  return &impl_->by_name.find(t->second)->second;
}

std::vector<const detail::type_entry*> registry::all() const {
  std::shared_lock lock(impl_->mutex);
  std::vector<const detail::type_entry*> out;
  for (const auto& [name, e] : impl_->by_name) out.push_back(&e);
  return out;
}

std::vector<const detail::type_entry*> registry::derived_from(std::type_index base) const {
  std::shared_lock lock(impl_->mutex);
  std::vector<const detail::type_entry*> out;
  for (const auto& [name, e] : impl_->by_name) {
    if (!e.create_raw) continue;
    bool is = e.type == base ||
              std::any_of(e.upcasts.begin(), e.upcasts.end(), [&](const auto& u) { return u.first == base; });
    if (is) out.push_back(&e);
  }
  return out;
}

namespace detail {
namespace {
[[noreturn]] void throw_unregistered(const std::type_info& dynamic_type, std::string_view context) {
  throw encode_error("cannot encode <" + std::string(context) + ">: its dynamic type " +
                     boost::core::demangle(dynamic_type.name()) + " is not registered (XGATE_REGISTER)");
}
}  // namespace

const type_entry& registered_dynamic(const std::type_info& dynamic_type, std::string_view context) {
  const type_entry* te = registry::instance().find(std::type_index(dynamic_type));
  if (!te) throw_unregistered(dynamic_type, context);
  return *te;
}
}  // namespace detail

}  // namespace xgate
