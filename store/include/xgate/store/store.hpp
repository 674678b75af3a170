// A persistent store of XML documents: documents under hierarchical names, a revision per
// change, and the rights each document carries enforced for the calling principal on every
// operation. The store holds the rules; an engine (engine.hpp) keeps the records: LMDB
// (lmdb_engine.hpp) unless another engine is given (postgresql_engine.hpp).
//
// Rights: an xgate document's embedded <xg:rights> are its rights. Plain XML gets the
// rights the writer supplies (default: xgate::rights::owned_by(principal)). A principal
// needs: read to read (and list: documents it may not read are not listed and not
// queried), write to replace, delete to remove, read and delete to take, copy to copy.
// Only the creator may change a document's rights; nobody may change its creator.
//
// Errors: every operation throws store_error (error.hpp) for what the store refuses or
// fails at, and xgate::access_denied for a refusal by a document's rights or a credential's
// grant; the lists below name the codes each one gives. Any operation may also throw
// store_error(lmdb) when the engine fails (no_space when its file system is full; on
// PostgreSQL: postgresql, or engine_unavailable, worth a retry), and
// bad_name for an invalid name or prefix.
//
// Thread safety: one store object may be used from any number of threads at once. See the
// engine's header for its own rules (lmdb_engine.hpp: one open per process, no fork()).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <xgate/store/credentials.hpp>
#include <xgate/store/error.hpp>
#include <xgate/store/names.hpp>
#include <xgate/xmlcodec/error.hpp>
#include <xgate/xmlcodec/rights.hpp>

namespace xgate::store {

using clock = std::chrono::system_clock;

struct document_info {
  std::string name;
  std::uint64_t revision = 0;  // the store revision of the document's last write
  clock::time_point created, modified;
  std::size_t size = 0;        // bytes of XML
  xgate::rights rights;        // rights.creator is the principal who created it
  bool embedded_rights = false;  // the rights come from the document's own <xg:rights>
  std::optional<clock::time_point> lease_expires;  // set when the document is leased
  std::string lease_holder;                        // the principal who may renew or cancel it
  friend bool operator==(const document_info&, const document_info&) = default;
};

struct document {
  document_info info;
  std::string xml;
};

struct write_options {
  // Compare-and-set: the write happens only if the document's current revision is this
  // one; 0 means the document must not exist yet. Otherwise store_error(conflict).
  std::optional<std::uint64_t> expected_revision;
  // Rights for plain XML (without embedded rights). Unset: owned_by(principal) for a new
  // document, the current rights for a replaced one. Must match embedded rights if both.
  std::optional<xgate::rights> rights;
  // A lease: the document expires this long after the write and is removed by reap().
  // The writer holds the lease. Unset: a replace keeps the document's current lease.
  std::optional<clock::duration> lease;
};

enum class change_kind { written, removed, expired };
const char* to_string(change_kind k) noexcept;  // "written", "removed", "expired"

// One entry of the change log: every revision is one change to one document.
struct change {
  std::uint64_t revision = 0;
  change_kind kind = change_kind::written;
  std::string name;
  friend bool operator==(const change&, const change&) = default;
};

// One page of a listing (store::list with list_options).
struct list_options {
  std::size_t limit = 0;  // documents on the page; 0: every one that is left
  std::string cursor;     // "" for the first page, else the previous page's list_page::next
  // false: a later page shows the documents after the cursor as they are now, instead of
  // refusing when they changed since the listing's revision. A watch from that revision
  // then sees every change the pages may have mixed in (how xgated streams a whole listing).
  bool snapshot = true;
};

struct list_page {
  std::vector<document_info> documents;  // in name order
  // The revision every page of this listing shows: the first page's. A watch from it sees
  // every change after the listing.
  std::uint64_t revision = 0;
  std::string next;  // the cursor of the next page; empty on the last page
};

// A declared index (store::add_index): the string values of `expression` in every document
// under `prefix`, kept beside the documents and changed in the same transactions.
struct index_info {
  std::string id;          // [A-Za-z0-9._-], 1 to 64 bytes
  std::string prefix;      // "" for every document
  std::string expression;  // an XPath 1.0 expression that selects nodes
  std::string creator;     // the principal who added it: only it may remove it
  friend bool operator==(const index_info&, const index_info&) = default;
};

// What an XPath query found in one document.
struct query_match {
  std::string name;
  std::uint64_t revision = 0;
  // Matched nodes: elements as XML, attributes and text as their values. An expression
  // that yields a number, string or boolean gives one entry: its string value.
  std::vector<std::string> values;
};

// The limits of one query (store::query). Past a budget the query stops with
// store_error(query_too_expensive) naming the budget; on a stop request, with
// store_error(cancelled). The evaluation checks its time, memory and stop request whenever
// XPath allocates (when it builds a node set or a string), and between documents and values;
// an expression that scans without allocating is cut short by a signal: the querying thread
// gets SIGRTMIN+5 within about 50 ms after the time budget (at once on a stop request), and
// its handler leaves the evaluation. The store installs that handler at the first query
// unless the program handles SIGRTMIN+5 itself (then such a scan runs to its end).
struct query_options {
  // Copying the documents out and evaluating them, all together.
  std::chrono::milliseconds time_budget{5000};
  // Bytes held at once: the copied documents, a parsed document and XPath's working memory
  // (a parsed document takes about 20 times its size, less for text-heavy documents).
  std::size_t memory_budget = std::size_t{512} << 20;
  // Bytes of the values produced, in all matches. The value that takes the total past it is
  // the last one produced: a caller taking values as they come holds at most one more.
  std::size_t result_budget = std::size_t{64} << 20;
  std::stop_token stop;
  // Paging, as for list_options: at most `limit` matching documents (0: every one), from
  // the cursor of the page before ("" for the first). Every page, and every read
  // transaction of one (a query copies documents out some 4,096 or 16 MB at a time), shows
  // the store at the first one's revision, or the query fails with store_error(revision_gone).
  std::size_t limit = 0;
  std::string cursor;
};

// Where a query (or one page of it) ended.
struct query_end {
  std::uint64_t revision = 0;  // the revision it showed: a watch from it sees every later change
  std::string next;            // the cursor of the next page; empty when no document is left
};

// One page of a query: what a session's paged query returns.
struct query_page {
  std::vector<query_match> matches;
  std::uint64_t revision = 0;
  std::string next;
};

// Writes and removes that commit together or not at all.
class batch {
 public:
  struct op {
    bool remove = false;
    std::string name, xml;
    write_options options;
  };
  batch& write(std::string name, std::string xml, write_options options = {});
  batch& remove(std::string name);
  std::size_t size() const noexcept { return ops_.size(); }
  bool empty() const noexcept { return ops_.empty(); }
  const std::vector<op>& ops() const noexcept { return ops_; }  // in order

 private:
  std::vector<op> ops_;
};

// The store's own limits; an engine's knobs are in its own options (lmdb_options).
struct store_options {
  // The change log watches read: entries beyond this many, or older than kept_age (when it is
  // not zero), are dropped; a watch after a dropped one gets history_lost (follow.hpp lists
  // again and goes on). An age costs every write a look at the oldest entries.
  std::uint64_t kept_changes = 100000;
  std::chrono::seconds kept_age{0};
  // Larger documents are refused with store_error(too_large).
  std::size_t max_document_size = std::size_t{64} << 20;
};

// See store::credential_key_of.
struct credential_key {
  std::string hash;  // BLAKE2b-256 of the token, 32 raw bytes
  caller who;
};

class engine;

class store {
 public:
  // Opens the store in dir on LMDB with lmdb_options' defaults: the same as
  // store(std::make_unique<lmdb_engine>(dir), options). Throws store_error(lmdb).
  explicit store(const std::filesystem::path& dir, store_options options = {});
  // The store on the given engine (not null), which it owns from here on. Throws only what
  // the engine's detect_foreign_changes() throws.
  store(std::unique_ptr<xgate::store::engine> e, store_options options = {});
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // Creates or replaces. The document must be well-formed XML in UTF-8 (bad_document names
  // the offset of the first byte that is not valid UTF-8). Throws store_error (bad_name,
  // bad_document, conflict, too_large,
  // creator_mismatch, rights_change) or xgate::access_denied (no write right on the
  // document being replaced; an anonymous principal creating one).
  document_info write(std::string_view name, std::string_view xml, const caller& who,
                      const write_options& options = {});
  // The document and its bytes. Throws store_error (bad_name, not_found) or
  // xgate::access_denied (no read right).
  [[nodiscard]] document read(std::string_view name, const caller& who) const;
  // Metadata only; the same rights and errors as read().
  [[nodiscard]] document_info info(std::string_view name, const caller& who) const;
  // Existence only, for any principal; no content. Throws store_error(bad_name).
  [[nodiscard]] bool contains(std::string_view name) const;
  // Removes; with expected_revision, only if the document is at that revision. Throws
  // store_error (bad_name, conflict, not_found) or xgate::access_denied (no delete right).
  void remove(std::string_view name, const caller& who, std::optional<std::uint64_t> expected_revision = {});
  // Reads and removes in one write transaction: of concurrent takers exactly one gets it,
  // the others get store_error(not_found). Throws store_error (bad_name, not_found) or
  // xgate::access_denied (no read or no delete right).
  document take(std::string_view name, const caller& who);
  // Copies the bytes and rights (creator included: they travel together) of from to to.
  // Needs the copy right on from; an existing to is replaced under write()'s rules (the
  // write right on it, and the same creator). Throws store_error (bad_name, not_found for
  // from, and write()'s codes for to) or xgate::access_denied (no copy right on from, no
  // write right on to).
  document_info copy(std::string_view from, std::string_view to, const caller& who);
  // Documents under prefix ("" = all, segment-wise: "a" lists "a" and "a/...", not "ab")
  // that principal may read, in name order; the first `limit` of them when limit > 0.
  // Throws store_error(bad_name) for a bad prefix.
  [[nodiscard]] std::vector<document_info> list(std::string_view prefix, const caller& who, std::size_t limit = 0) const;
  // The same listing in pages, each read in its own short read transaction (nothing is held
  // between pages, so a slow reader never holds up the store), all showing the store at the
  // first page's revision. A later page is refused with store_error(revision_gone) when a
  // change after that revision touched a document the listing has yet to give, or the change
  // log no longer reaches back to it: list again from the first page (or take the page's
  // documents as they are now with a fresh listing, and watch from its revision). Throws
  // store_error (bad_name for a bad prefix, bad_cursor for a cursor that is malformed or of
  // another prefix, revision_gone).
  [[nodiscard]] list_page list(std::string_view prefix, const caller& who, const list_options& options) const;
  // Evaluates xpath on every readable document under prefix; documents without a match
  // are left out. Element names are matched as written, prefix included ("xg:rights").
  // The documents are copied out in short read transactions and evaluated after each: a
  // query never holds a transaction while it evaluates. With options.limit, the first page
  // (the form with a sink tells the cursor of the next). Throws store_error (bad_name for
  // the prefix, bad_xpath, query_too_expensive, cancelled, bad_cursor, revision_gone).
  [[nodiscard]] std::vector<query_match> query(std::string_view prefix, std::string_view xpath, const caller& who,
                                               const query_options& options = {}) const;
  // The same query, its values handed to each as they are produced (document by document in
  // name order, each document's values in document order) instead of collected: each(name,
  // revision, value). Whatever each throws stops the query and passes through. Returns the
  // revision the query showed and, when it stopped at options.limit with documents left,
  // the cursor of the next page.
  using query_sink = std::function<void(const std::string& name, std::uint64_t revision, std::string&& value)>;
  query_end query(std::string_view prefix, std::string_view xpath, const caller& who, const query_options& options,
             const query_sink& each) const;
  // Indexes. An index keeps, for every document under its prefix, the string values of the
  // nodes its expression selects (the first 64 bytes of each), updated in the transaction of
  // every write, copy, removal, take and expiry. A query under the index's prefix whose
  // XPath is the index's expression followed by [. = 'LITERAL'] (then anything but a union:
  // further steps or predicates) reads only the documents the index lists under that value
  // instead of every document, and gives the same answer: the expression is still evaluated
  // on each of them, and rights are checked on each. Indexes change no answer, only its
  // speed, and cost every write under their prefix a parse of the document.
  // Adds an index and fills it from the documents already stored, in one write transaction
  // (which holds up other writes meanwhile: about 5 s for a million small documents on LMDB).
  // Throws store_error (bad_name for an id that is not 1 to 64 of [A-Za-z0-9._-] or a bad
  // prefix, bad_xpath for an expression that does not compile or selects no nodes, conflict
  // for an id taken) or xgate::access_denied (an anonymous principal).
  // Returns the index as kept.
  index_info add_index(std::string_view id, std::string_view prefix, std::string_view expression, const caller& who);
  // Removes an index. Throws store_error(not_found) or xgate::access_denied (not its creator).
  void remove_index(std::string_view id, const caller& who);
  // Every index, in id order, for any principal. Throws only engine failures.
  [[nodiscard]] std::vector<index_info> indexes() const;

  // Applies every operation of b in one transaction; on any error nothing is applied.
  // Returns the info of each written document, in order (removes give none). Throws what
  // write() and remove() throw, for the first operation that fails ("batch write" or
  // "batch remove" as the operation).
  std::vector<document_info> apply(const batch& b, const caller& who);

  // Leases. An expired document is gone for every operation even before reap() removes
  // it. Only the lease holder may renew (a new time to live from now) or cancel (the
  // document stays, without lease); others get xgate::access_denied for the "lease" right,
  // a document without lease gives store_error(no_lease). Neither changes the revision.
  // Both throw store_error (bad_name, not_found, no_lease) or xgate::access_denied.
  document_info renew_lease(std::string_view name, const caller& who, clock::duration ttl);
  document_info cancel_lease(std::string_view name, const caller& who);
  // Removes every document whose lease expired at or before now, each removal taking a
  // revision. Returns the names removed, oldest expiry first. Throws only engine failures.
  std::vector<std::string> reap(clock::time_point now = clock::now());

  // Watches. The changes after revision `after` to documents under prefix, oldest first,
  // limited to documents principal could read when they changed; the first `limit` of them
  // when limit > 0 (the last one's revision is where the next call goes on). Throws
  // store_error(history_lost) when some of those changes are no longer kept, bad_name for
  // a bad prefix.
  [[nodiscard]] std::vector<change> changes(std::string_view prefix, std::uint64_t after, const caller& who,
                                            std::size_t limit = 0) const;
  // Like changes(), but waits up to timeout for at least one; empty on timeout or when
  // stop is requested. Wakes at once for writes through this store object; for writes by
  // other processes, when the engine tells (LMDB: within a 50 ms poll). Throws what
  // changes() throws.
  [[nodiscard]] std::vector<change> watch(std::string_view prefix, std::uint64_t after, const caller& who,
                            std::chrono::milliseconds timeout, std::stop_token stop = {}, std::size_t limit = 0) const;

  // Credentials (see credentials.hpp). The local API trusts its caller's principal; a
  // server authenticates its clients' tokens with authenticate() and acts as the caller
  // it returns.
  // Issues a credential for who.principal(). Through a credential, the request must lie
  // within who's grant (xgate::access_denied "issue credential" otherwise) and the new
  // credential dies with that one. Returns the token; the store keeps only its hash.
  // Throws store_error (bad_name for the scope; bad_credential for no rights, a ttl that is
  // not positive, a parent revoked meanwhile, an id collision) or xgate::access_denied (an
  // anonymous principal; a request outside who's grant).
  [[nodiscard]] std::string issue_credential(const caller& who, const credential_request& request);
  // The caller a token stands for. store_error(bad_credential) for a token that is
  // unknown, expired, revoked, or issued through a credential that no longer holds.
  [[nodiscard]] caller authenticate(std::string_view token) const;
  // For challenge-response protocols (the channel hub), which never see the token: the
  // token's hash and the caller the credential with this id stands for, when it holds
  // (nullopt when it is unknown, expired or revoked). The hash is secret-equivalent for
  // such a protocol: never log or send it. Throws only engine failures.
  [[nodiscard]] std::optional<credential_key> credential_key_of(std::string_view id) const;
  // The credentials issued for who.principal() (through who's own credential and its
  // children only, when who has one), in id order. Throws only engine failures.
  [[nodiscard]] std::vector<credential_info> credentials(const caller& who) const;
  // Revokes a credential of who.principal() (and so every credential issued through it).
  // store_error(not_found) for an id that is not one of them.
  void revoke_credential(std::string_view id, const caller& who);
  // How many revocations this store object has committed: what holds a login open (the
  // hub) checks its credentials again when it changes. (Revocations by another process on
  // the same files are not counted: such holders also check every so often.)
  [[nodiscard]] std::uint64_t revocations() const noexcept;

  // The last revision given out; 0 for a new store. Throws only engine failures.
  [[nodiscard]] std::uint64_t revision() const;
  // Where the store is (engine::address()): "file:/absolute/dir" for LMDB.
  [[nodiscard]] std::string address() const;
  // The engine keeping the records, for its own facts (lmdb_engine::map_size()).
  xgate::store::engine& engine() noexcept;
  const xgate::store::engine& engine() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// Calls on_change from its own thread with each group of changes under prefix after
// `after` that principal may see, oldest first, until destroyed (the destructor stops and
// joins the thread). The store must outlive the watcher. If watching fails (e.g.
// history_lost) or on_change throws, the watcher stops and error() holds the exception.
// The constructor throws store_error(bad_name) for a bad prefix.
class watcher {
 public:
  using callback = std::function<void(const std::vector<change>&)>;
  watcher(const store& s, std::string prefix, std::uint64_t after, caller who, callback on_change);
  ~watcher();
  watcher(const watcher&) = delete;
  watcher& operator=(const watcher&) = delete;
  bool stopped() const noexcept;
  std::exception_ptr error() const;

 private:
  struct state;
  std::shared_ptr<state> state_;
  std::jthread thread_;
};

// Runs store::reap() every interval on its own thread until destroyed. The store must
// outlive the reaper. A failing reap stops it; error() holds the exception.
class reaper {
 public:
  reaper(store& s, clock::duration interval);
  ~reaper();
  reaper(const reaper&) = delete;
  reaper& operator=(const reaper&) = delete;
  std::uint64_t removed() const noexcept;  // documents removed so far
  std::exception_ptr error() const;

 private:
  struct state;
  std::shared_ptr<state> state_;
  std::jthread thread_;
};

}  // namespace xgate::store
