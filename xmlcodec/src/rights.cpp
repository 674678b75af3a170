#include <algorithm>

#include <xgate/xmlcodec/error.hpp>
#include <xgate/xmlcodec/rights.hpp>

namespace xgate {

const char* to_string(right r) noexcept {
  switch (r) {
    case right::read: return "read";
    case right::write: return "write";
    case right::del: return "delete";
    case right::copy: return "copy";
  }
  return "?";
}

rights rights::owned_by(std::string creator) {
  rights r;
  r.creator = std::move(creator);
  r.read = r.write = r.del = r.copy = {"creator"};
  return r;
}

namespace {
// rights and rights_override (and their const forms) name their four lists alike.
template <class R>
auto& list_of(R& holder, right r) noexcept {
  switch (r) {
    case right::read: return holder.read;
    case right::write: return holder.write;
    case right::del: return holder.del;
    case right::copy: return holder.copy;
  }
  return holder.read;
}
}  // namespace

const principal_list& rights::list(right r) const noexcept { return list_of(*this, r); }
principal_list& rights::list(right r) noexcept { return list_of(*this, r); }

bool rights::allows(std::string_view principal, right r) const {
  for (const std::string& p : list(r)) {
    if (p == "*") return true;
    if (principal.empty()) continue;
    if (p == principal) return true;
    if (p == "creator" && principal == creator) return true;
  }
  return false;
}

const std::optional<principal_list>& rights_override::list(right r) const noexcept { return list_of(*this, r); }
std::optional<principal_list>& rights_override::list(right r) noexcept { return list_of(*this, r); }

bool is_valid_principal(std::string_view name) noexcept {
  if (name.empty() || name.size() > 256) return false;
  for (unsigned char c : name)
    if (c <= 0x20 || c == 0x7f || c == '"' || c == '\'' || c == '<' || c == '>' || c == '&') return false;
  return true;
}

principal_list parse_principals(std::string_view text) {
  principal_list out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
    std::size_t j = i;
    while (j < text.size() && !(text[j] == ' ' || text[j] == '\t' || text[j] == '\n' || text[j] == '\r')) ++j;
    if (j > i) {
      std::string_view name = text.substr(i, j - i);
      if (!is_valid_principal(name)) throw error(errc::bad_value, "invalid principal name \"" + std::string(name) + "\"");
      out.emplace_back(name);
    }
    i = j;
  }
  return out;
}

std::string join_principals(const principal_list& list) {
  std::string s;
  for (const std::string& p : list) {
    if (!is_valid_principal(p)) throw error(errc::bad_value, "invalid principal name \"" + p + "\"");
    if (!s.empty()) s += ' ';
    s += p;
  }
  return s;
}

}  // namespace xgate
