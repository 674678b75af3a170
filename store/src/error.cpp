#include <xgate/store/error.hpp>

namespace xgate::store {

const char* to_string(store_errc code) noexcept {
  switch (code) {
    case store_errc::not_found: return "not_found";
    case store_errc::conflict: return "conflict";
    case store_errc::bad_name: return "bad_name";
    case store_errc::bad_document: return "bad_document";
    case store_errc::creator_mismatch: return "creator_mismatch";
    case store_errc::rights_change: return "rights_change";
    case store_errc::bad_xpath: return "bad_xpath";
    case store_errc::no_lease: return "no_lease";
    case store_errc::history_lost: return "history_lost";
    case store_errc::bad_credential: return "bad_credential";
    case store_errc::too_large: return "too_large";
    case store_errc::lmdb: return "lmdb";
  }
  return "?";
}

std::optional<store_errc> store_errc_from_string(std::string_view name) noexcept {
  for (int c = static_cast<int>(store_errc::not_found); c <= static_cast<int>(store_errc::lmdb); ++c)
    if (name == to_string(static_cast<store_errc>(c))) return static_cast<store_errc>(c);
  return std::nullopt;
}

namespace {
std::string compose(std::string_view operation, std::string_view document, std::string_view detail) {
  std::string m = "store: ";
  m += operation;
  if (!document.empty()) {
    m += " \"";
    m += document;
    m += '"';
  }
  m += ": ";
  m += detail;
  return m;
}
}  // namespace

store_error::store_error(store_errc code, std::string_view operation, std::string_view document, std::string_view detail,
                         int lmdb_code)
    : xgate::error(xgate::errc::store_failure, compose(operation, document, detail)),
      code_(code),
      lmdb_code_(lmdb_code),
      operation_(operation),
      document_(document) {}

}  // namespace xgate::store
