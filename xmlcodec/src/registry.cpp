#include <algorithm>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <unordered_map>

#include <boost/core/demangle.hpp>

#include <xgate/xmlcodec/detail/type_entry.hpp>
#include <xgate/xmlcodec/detail/xsd.hpp>
#include <xgate/xmlcodec/error.hpp>
#include <xgate/xmlcodec/registry.hpp>

namespace xgate {

namespace detail {
namespace {
// Entries live in map nodes, so the pointers handed out stay valid as more are added.
struct type_table {
  mutable std::shared_mutex mutex;
  std::map<std::string, type_entry, std::less<>> by_name;
  std::unordered_map<std::type_index, std::string> by_type;
};

// A function-local static: XGATE_REGISTER objects of other translation units fill it
// while the program starts, in an order nobody controls.
type_table& table() {
  static type_table t;
  return t;
}

// With the lock held.
const type_entry* find_locked(const type_table& t, std::type_index type) {
  auto it = t.by_type.find(type);
  return it == t.by_type.end() ? nullptr : &t.by_name.find(it->second)->second;
}

[[noreturn]] void throw_unregistered(const std::type_info& dynamic_type, std::string_view context) {
  throw encode_error("cannot encode <" + std::string(context) + ">: its dynamic type " +
                     boost::core::demangle(dynamic_type.name()) + " is not registered (XGATE_REGISTER)");
}
}  // namespace

void add_entry(type_entry entry) {
  type_table& t = table();
  std::unique_lock lock(t.mutex);
  auto it = t.by_name.find(entry.name);
  if (it != t.by_name.end()) {
    if (it->second.type != entry.type)
      throw std::logic_error("xgate: two different types are registered under the name \"" + std::string(entry.name) + "\"");
    return;  // the same registration seen from another translation unit
  }
  auto named = t.by_type.find(entry.type);
  if (named != t.by_type.end())
    throw std::logic_error("xgate: one type is registered under two names, \"" + named->second + "\" and \"" +
                           std::string(entry.name) + "\"");
  t.by_type.emplace(entry.type, std::string(entry.name));
  t.by_name.emplace(std::string(entry.name), std::move(entry));
}

void add_sample(std::type_index type, erased_sample sample) {
  type_table& t = table();
  std::unique_lock lock(t.mutex);
  auto named = t.by_type.find(type);
  if (named == t.by_type.end())
    throw std::logic_error("xgate: XGATE_SAMPLE for a type that is not registered with XGATE_REGISTER (" +
                           boost::core::demangle(type.name()) + ")");
  t.by_name.find(named->second)->second.sample = sample;
}

const type_entry* find_entry(std::string_view name) {
  const type_table& t = table();
  std::shared_lock lock(t.mutex);
  auto it = t.by_name.find(name);
  return it == t.by_name.end() ? nullptr : &it->second;
}

const type_entry* find_entry(std::type_index type) {
  const type_table& t = table();
  std::shared_lock lock(t.mutex);
  return find_locked(t, type);
}

std::vector<const type_entry*> all_entries() {
  const type_table& t = table();
  std::shared_lock lock(t.mutex);
  std::vector<const type_entry*> out;
  for (const auto& [name, e] : t.by_name) out.push_back(&e);
  return out;
}

std::vector<const type_entry*> entries_derived_from(std::type_index base) {
  const type_table& t = table();
  std::shared_lock lock(t.mutex);
  std::vector<const type_entry*> out;
  for (const auto& [name, e] : t.by_name) {
    if (!e.create_raw) continue;
    bool is = e.type == base ||
              std::any_of(e.upcasts.begin(), e.upcasts.end(), [&](const auto& u) { return u.first == base; });
    if (is) out.push_back(&e);
  }
  return out;
}

const type_entry& registered_dynamic(const std::type_info& dynamic_type, std::string_view context) {
  const type_entry* te = find_entry(std::type_index(dynamic_type));
  if (!te) throw_unregistered(dynamic_type, context);
  return *te;
}
}  // namespace detail

// ---- registered_type ---------------------------------------------------------------------
std::string_view registered_type::name() const noexcept { return entry_ ? entry_->name : std::string_view(); }
unsigned registered_type::version() const noexcept { return entry_ ? entry_->version : 0; }
std::type_index registered_type::type() const noexcept { return entry_ ? entry_->type : std::type_index(typeid(void)); }
bool registered_type::polymorphic() const noexcept { return entry_ && entry_->polymorphic; }
bool registered_type::abstract() const noexcept { return entry_ && !entry_->create_raw; }
bool registered_type::has_sample() const noexcept { return entry_ && entry_->sample; }

const detail::type_entry& registered_type::entry() const {
  if (!entry_) throw error(errc::unknown_type, "an empty registered_type names no type");
  return *entry_;
}

std::vector<registered_type> registered_type::bases() const {
  std::vector<registered_type> out;
  if (!entry_) return out;
  for (const auto& [base, upcast] : entry_->upcasts)
    if (const detail::type_entry* te = detail::find_entry(base)) out.push_back(registered_type(te));
  return out;
}

std::string registered_type::schema() const {
  const detail::type_entry& te = entry();
  detail::schema_builder b;
  te.schema(b);
  std::string name(te.name);
  return b.finish("<xs:element name=\"" + name + "\" type=\"xg:" + name + "\"/>");
}

std::string registered_type::recode(std::string_view xml, const decode_options& decode, const encode_options& encode) const {
  const detail::type_entry& te = entry();
  if (!te.recode)
    throw error(errc::abstract_type, "type " + std::string(te.name) + " cannot be instantiated (abstract or not default-constructible)");
  return te.recode(xml, decode, encode);
}

std::string registered_type::sample(std::uint64_t seed, std::size_t count, const encode_options& options) const {
  const detail::type_entry& te = entry();
  if (!te.sample) throw std::logic_error("xgate: type " + std::string(te.name) + " has no sample generator (XGATE_SAMPLE)");
  return te.sample(seed, count, options);
}

// ---- registry ------------------------------------------------------------------------------
const registry& registry::instance() {
  static const registry r;
  return r;
}

registered_type registry::find(std::string_view name) const { return registered_type(detail::find_entry(name)); }
registered_type registry::find(std::type_index type) const { return registered_type(detail::find_entry(type)); }

std::vector<registered_type> registry::all() const {
  std::vector<registered_type> out;
  for (const detail::type_entry* te : detail::all_entries()) out.push_back(registered_type(te));
  return out;
}

std::vector<registered_type> registry::derived_from(std::type_index base) const {
  std::vector<registered_type> out;
  for (const detail::type_entry* te : detail::entries_derived_from(base)) out.push_back(registered_type(te));
  return out;
}

}  // namespace xgate
