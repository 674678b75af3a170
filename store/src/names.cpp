#include <xgate/store/error.hpp>
#include <xgate/store/names.hpp>

namespace xgate::store {

bool is_valid_identifier(std::string_view text) noexcept {
  if (text.empty() || text.size() > 64) return false;
  for (char c : text)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  return true;
}

bool is_valid_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > max_name_bytes) return false;
  std::size_t seg_start = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '/') {
      std::string_view seg = name.substr(seg_start, i - seg_start);
      if (seg.empty() || seg == "." || seg == "..") return false;
      seg_start = i + 1;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

void check_name(std::string_view operation, std::string_view name) {
  if (!is_valid_name(name))
    throw store_error(store_errc::bad_name, operation, printable(name),
                      "invalid name (want non-empty '/'-separated segments of printable ASCII, at most " +
                          std::to_string(max_name_bytes) + " bytes)");
}

std::string_view check_prefix(std::string_view operation, std::string_view prefix) {
  if (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  if (!prefix.empty()) check_name(operation, prefix);
  return prefix;
}

bool is_under(std::string_view name, std::string_view prefix) noexcept {
  if (prefix.empty()) return true;
  if (!name.starts_with(prefix)) return false;
  return name.size() == prefix.size() || name[prefix.size()] == '/';
}

}  // namespace xgate::store
