// A store as one caller sees it, local or across the network. Results, the CLI and the
// channel program against this, so the same code runs on a store directory opened in the
// process (local_session) or on an xgated server (xgate::client::http_session).
//
// Errors are the store's own, whichever side: store_error with its store_errc, and
// xgate::access_denied for a refusal by a document's rights or by a credential's grant.
// Each function throws what the store function of the same name throws (store.hpp); a
// remote session adds its transport's failures (see its own header).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <xgate/store/credentials.hpp>
#include <xgate/store/store.hpp>

namespace xgate::store {

class session {
 public:
  virtual ~session() = default;

  // Where the store is: "file:/absolute/dir" or "http://host:port".
  virtual std::string address() const = 0;
  // The principal this session acts for.
  virtual std::string principal() = 0;

  virtual document_info write(std::string_view name, std::string_view xml, const write_options& options = {}) = 0;
  virtual document read(std::string_view name) = 0;
  virtual document_info info(std::string_view name) = 0;
  virtual void remove(std::string_view name, std::optional<std::uint64_t> expected_revision = {}) = 0;
  virtual document take(std::string_view name) = 0;
  virtual std::vector<document_info> list(std::string_view prefix) = 0;
  // One page of a listing (store::list with list_options); a limit of 0 gives every
  // document left after the cursor.
  virtual list_page list(std::string_view prefix, const list_options& options) = 0;
  virtual std::vector<query_match> query(std::string_view prefix, std::string_view xpath) = 0;
  // One page of the query: at most `limit` matching documents (not 0), after cursor ("" for
  // the first page); as query_options' limit and cursor.
  virtual query_page query(std::string_view prefix, std::string_view xpath, std::size_t limit, std::string_view cursor) = 0;
  // Every operation of b in one transaction, or none (store::apply). Returns the info of
  // each written document, in order.
  virtual std::vector<document_info> apply(const batch& b) = 0;
  // The changes under prefix after `after`; waits up to timeout for one (empty on timeout).
  virtual std::vector<change> watch(std::string_view prefix, std::uint64_t after, std::chrono::milliseconds timeout) = 0;
  virtual std::uint64_t revision() = 0;  // the store's last revision
  // Indexes (store::add_index, remove_index, indexes).
  virtual void add_index(std::string_view id, std::string_view prefix, std::string_view expression) = 0;
  virtual void remove_index(std::string_view id) = 0;
  virtual std::vector<index_info> indexes() = 0;
  virtual document_info renew_lease(std::string_view name, clock::duration ttl) = 0;
  virtual document_info cancel_lease(std::string_view name) = 0;
  // A new credential for this session's principal, within this session's own grant when
  // the session itself runs on a credential. Returns the token (shown only here).
  virtual std::string issue_credential(const credential_request& request) = 0;
  // This session's principal's credentials (a session on a credential: that one and those
  // issued through it), in id order; never a token.
  virtual std::vector<credential_info> credentials() = 0;
  // Revokes one of them and every credential issued through it: their tokens are refused
  // from then on. store_error(not_found) for an id that is not one of credentials().
  virtual void revoke_credential(std::string_view id) = 0;
};

// A session on a store opened in this process, acting as who. The store must outlive it.
std::unique_ptr<session> local_session(store& s, caller who);

}  // namespace xgate::store
