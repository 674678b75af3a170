// Typed store errors. A refusal by a document's rights is xgate::access_denied (from
// xmlcodec), like everywhere else in xgate; everything else the store refuses or fails
// at is a store_error whose message names the operation and the document:
//   store: write "results/job-17/final": revision conflict (expected 4, current 5)
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <system_error>

#include <xgate/xmlcodec/error.hpp>

namespace xgate::store {

enum class store_errc {
  not_found = 1,     // no document under that name
  conflict,          // compare-and-set: the revision is not the expected one
  bad_name,          // a name that is empty, too long, has empty segments or unprintable bytes
  bad_document,      // not well-formed XML, or embedded rights that cannot be read
  creator_mismatch,  // a document claiming another creator than the principal creating it
  rights_change,     // a replace by a non-creator that would change the document's rights
  bad_xpath,         // an XPath expression that does not compile
  no_lease,          // renew or cancel of a document that holds no lease
  history_lost,      // a watch after a revision older than the change log still holds
  bad_credential,    // a token that is unknown, expired or revoked, or a malformed credential request
  too_large,         // a document larger than store_options::max_document_size
  lmdb,              // any other LMDB failure; lmdb_code() holds the MDB_* code
  query_too_expensive,   // a query past its time, memory or result budget (query_options)
  cancelled,             // an operation stopped by its caller's stop request
  no_space,              // the store's file system is full; lmdb_code() holds ENOSPC
  insecure_permissions,  // a store directory or file that users other than its owner may write
  engine_unavailable,    // the database cannot be reached or the connection broke: worth a retry
  postgresql,            // any other PostgreSQL failure; the detail names its SQLSTATE
  bad_cursor,            // a page cursor that is malformed or belongs to another listing
  revision_gone,         // a later page of a listing whose revision can no longer be shown: list again
};
}  // namespace xgate::store

template <>
struct std::is_error_code_enum<xgate::store::store_errc> : std::true_type {};

namespace xgate::store {

// The category of store_errc ("xgate.store"); each code's condition: docs/errors.md.
[[nodiscard]] const xgate::code_category& store_category() noexcept;
[[nodiscard]] inline std::error_code make_error_code(store_errc code) noexcept {
  return {static_cast<int>(code), store_category()};
}

[[nodiscard]] const char* to_string(store_errc code) noexcept;  // "not_found", "conflict", ...
[[nodiscard]] std::optional<store_errc> store_errc_from_string(std::string_view name) noexcept;  // the inverse

// An xgate::error whose code() is a store_errc (compare: `e.code() == store_errc::conflict`).
class store_error : public xgate::error {
 public:
  // what(): "store: OPERATION \"DOCUMENT\": DETAIL" ("store: OPERATION: DETAIL" without a document).
  store_error(store_errc code, std::string_view operation, std::string_view document, std::string_view detail,
              int lmdb_code = 0);
  // code() as the store_errc it always is, for a switch or to_string.
  [[nodiscard]] store_errc reason() const noexcept { return static_cast<store_errc>(code().value()); }
  int lmdb_code() const noexcept { return lmdb_code_; }  // 0 unless code() is store_errc::lmdb
  const std::string& operation() const noexcept { return operation_; }
  const std::string& document() const noexcept { return document_; }

 private:
  int lmdb_code_;
  std::string operation_, document_;
};

}  // namespace xgate::store
