#include <xgate/store/error.hpp>

namespace xgate::store {

const xgate::code_category& store_category() noexcept {
#define E(c) static_cast<int>(store_errc::c)
  static const xgate::code_category category("xgate.store", {
      {E(not_found), "not_found", condition::not_found, "no document under that name"},
      {E(conflict), "conflict", condition::conflict, "compare-and-set: the revision is not the expected one"},
      {E(bad_name), "bad_name", condition::invalid_input, "a name that is empty, too long, has empty segments or unprintable bytes"},
      {E(bad_document), "bad_document", condition::invalid_input, "not well-formed XML, or embedded rights that cannot be read"},
      {E(creator_mismatch), "creator_mismatch", condition::invalid_input, "a document claiming another creator than the principal creating it"},
      {E(rights_change), "rights_change", condition::access_denied, "a replace by a non-creator that would change the document's rights"},
      {E(bad_xpath), "bad_xpath", condition::invalid_input, "an XPath expression that does not compile"},
      {E(no_lease), "no_lease", condition::failed_precondition, "renew or cancel of a document that holds no lease"},
      {E(history_lost), "history_lost", condition::failed_precondition, "a watch after a revision older than the change log still holds"},
      {E(bad_credential), "bad_credential", condition::access_denied, "a token that is unknown, expired or revoked, or a malformed credential request"},
      {E(too_large), "too_large", condition::too_large, "a document larger than store_options::max_document_size"},
      {E(lmdb), "lmdb", condition::internal, "any other LMDB failure; lmdb_code() holds the MDB_* code"},
      {E(query_too_expensive), "query_too_expensive", condition::too_large, "a query past its time, memory or result budget (query_options)"},
      {E(cancelled), "cancelled", condition::unavailable, "an operation stopped by its caller's stop request"},
      {E(no_space), "no_space", condition::internal, "the store's file system is full; lmdb_code() holds ENOSPC"},
      {E(insecure_permissions), "insecure_permissions", condition::failed_precondition, "a store directory or file that users other than its owner may write"},
      {E(engine_unavailable), "engine_unavailable", condition::unavailable, "the database cannot be reached or the connection broke: worth a retry (a write whose commit was cut off may have happened: retry it with compare-and-set)"},
      {E(postgresql), "postgresql", condition::internal, "any other PostgreSQL failure; the detail names its SQLSTATE"},
      {E(bad_cursor), "bad_cursor", condition::invalid_input, "a page cursor that is malformed or belongs to another listing"},
      {E(revision_gone), "revision_gone", condition::failed_precondition, "a later page of a listing whose revision can no longer be shown (a change after it, or the change log no longer reaches back to it): list again from the first page"},
  });
#undef E
  return category;
}

const char* to_string(store_errc code) noexcept { return store_category().code_name(static_cast<int>(code)); }

std::optional<store_errc> store_errc_from_string(std::string_view name) noexcept {
  return store_category().value_as<store_errc>(name);
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
    : xgate::error(code, compose(operation, document, detail)),
      lmdb_code_(lmdb_code),
      operation_(operation),
      document_(document) {}

}  // namespace xgate::store
