#include <xgate/store/credentials.hpp>
#include <xgate/store/names.hpp>

#include <algorithm>

namespace xgate::store {

namespace {
constexpr std::pair<xgate::right, std::string_view> right_names[] = {
    {xgate::right::read, "read"}, {xgate::right::write, "write"}, {xgate::right::del, "delete"}, {xgate::right::copy, "copy"}};
}

std::string right_set::to_string() const {
  std::string out;
  for (auto [r, name] : right_names) {
    if (!has(r)) continue;
    if (!out.empty()) out += ',';
    out += name;
  }
  return out;
}

std::optional<right_set> right_set::parse(std::string_view text) {
  if (text == "all") return all();
  right_set out;
  while (!text.empty()) {
    std::size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    bool known = false;
    for (auto [r, name] : right_names) {
      if (item == name) {
        out.bits_ |= bit(r);
        known = true;
      }
    }
    if (!known) return std::nullopt;
    if (comma != std::string_view::npos && text.empty()) return std::nullopt;  // "read,"
  }
  return out;
}

bool grant::covers(std::string_view name) const noexcept {
  if (scope.empty()) return true;
  return subtree ? is_under(name, scope) : name == scope;
}

bool grant::allows_method(std::string_view method) const noexcept {
  return methods.empty() || std::binary_search(methods.begin(), methods.end(), method);
}

bool grant::within(const grant& other) const noexcept {
  if (principal != other.principal || !rights.within(other.rights)) return false;
  if (!other.methods.empty() &&
      (methods.empty() || !std::includes(other.methods.begin(), other.methods.end(), methods.begin(), methods.end())))
    return false;
  if (other.expires && (!expires || *expires > *other.expires)) return false;
  if (!other.covers(scope)) return false;
  // A subtree is within a subtree that covers its root; a single document is within either.
  if (subtree && !other.subtree) return false;
  if (scope.empty() && !other.scope.empty()) return false;
  return true;
}

bool is_valid_method(std::string_view text) noexcept { return is_valid_identifier(text); }

std::optional<std::vector<std::string>> parse_methods(std::string_view text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  for (;;) {
    std::size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    if (!is_valid_method(item)) return std::nullopt;
    out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string join_methods(const std::vector<std::string>& methods) {
  std::string out;
  for (const std::string& m : methods) {
    if (!out.empty()) out += ',';
    out += m;
  }
  return out;
}

}  // namespace xgate::store
