// A persistent store of XML documents on LMDB: an environment in a directory, documents
// under hierarchical names, a revision per change, and the rights each document carries
// enforced for the calling principal on every operation.
//
// Layout: six named LMDB databases in one environment.
//   docs    name -> the document's bytes, exactly as written
//   meta    name -> its metadata (revision, times, size, rights, lease), a small record
//   sys     "revision" -> the store's last revision
//   changes revision (8 bytes, big-endian) -> kind, name and the document's readers: the
//           change log that watches read; the newest store_options::kept_changes are kept
//   leases  expiry (8 bytes, big-endian ns) + name -> nothing: the reaper's index, so it
//           visits only expired leases, oldest first
//   creds   credential id -> the token's hash and the grant (see credentials.hpp)
// Metadata lives apart from the bytes so that listing and rights checks read a few dozen
// bytes per document instead of paging in whole documents, and read() hands back the
// bytes without a header to strip.
//
// Rights: an xgate document's embedded <xg:rights> are its rights. Plain XML gets the
// rights the writer supplies (default: xgate::rights::owned_by(principal)). A principal
// needs: read to read (and list: documents it may not read are not listed and not
// queried), write to replace, delete to remove, read and delete to take, copy to copy.
// Only the creator may change a document's rights; nobody may change its creator.
//
// Thread safety: one store object may be used from any number of threads at once.
// Readers never block each other or the writer (except for the moment the map grows);
// writes are serialized by LMDB. Several
// processes may open the same directory, but a process must open it only once (LMDB's
// rule: a second environment on the same files in one process breaks its locks), and a
// store object must not be used in a child after fork().
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

// What an XPath query found in one document.
struct query_match {
  std::string name;
  std::uint64_t revision = 0;
  // Matched nodes: elements as XML, attributes and text as their values. An expression
  // that yields a number, string or boolean gives one entry: its string value.
  std::vector<std::string> values;
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

struct store_options {
  // The map starts at this size and doubles whenever a write transaction fills it.
  std::size_t initial_map_size = std::size_t{64} << 20;
  unsigned max_readers = 126;  // concurrent read transactions (LMDB reader slots)
  std::uint64_t kept_changes = 100000;  // change log entries kept for watches
  // Larger documents are refused with store_error(too_large).
  std::size_t max_document_size = std::size_t{64} << 20;
};

// See store::credential_key_of.
struct credential_key {
  std::string hash;  // BLAKE2b-256 of the token, 32 raw bytes
  caller who;
};

class store {
 public:
  // Opens the store in dir, creating the directory and the databases if missing.
  // Stale reader slots left by dead processes are cleared.
  explicit store(const std::filesystem::path& dir, store_options options = {});
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // Creates or replaces. Throws store_error (bad_name, bad_document, conflict,
  // creator_mismatch, rights_change) or xgate::access_denied (no write right on the
  // document being replaced; an anonymous principal creating one).
  document_info write(std::string_view name, std::string_view xml, const caller& who,
                      const write_options& options = {});
  document read(std::string_view name, const caller& who) const;
  document_info info(std::string_view name, const caller& who) const;  // metadata only, needs read
  bool contains(std::string_view name) const;  // existence only, for any principal; no content
  // Removes; with expected_revision, only if the document is at that revision
  // (store_error(conflict) otherwise).
  void remove(std::string_view name, const caller& who, std::optional<std::uint64_t> expected_revision = {});
  // Reads and removes in one write transaction: of concurrent takers exactly one gets it,
  // the others get store_error(not_found).
  document take(std::string_view name, const caller& who);
  // Copies the bytes and rights (creator included: they travel together) of from to to.
  // Needs the copy right on from; an existing to is replaced under write()'s rules (the
  // write right on it, and the same creator).
  document_info copy(std::string_view from, std::string_view to, const caller& who);
  // Documents under prefix ("" = all, segment-wise: "a" lists "a" and "a/...", not "ab")
  // that principal may read, in name order; the first `limit` of them when limit > 0.
  std::vector<document_info> list(std::string_view prefix, const caller& who, std::size_t limit = 0) const;
  // Evaluates xpath on every readable document under prefix; documents without a match
  // are left out. Element names are matched as written, prefix included ("xg:rights").
  std::vector<query_match> query(std::string_view prefix, std::string_view xpath, const caller& who) const;
  // Applies every operation of b in one transaction; on any error nothing is applied.
  // Returns the info of each written document, in order (removes give none).
  std::vector<document_info> apply(const batch& b, const caller& who);

  // Leases. An expired document is gone for every operation even before reap() removes
  // it. Only the lease holder may renew (a new time to live from now) or cancel (the
  // document stays, without lease); others get xgate::access_denied for the "lease" right,
  // a document without lease gives store_error(no_lease). Neither changes the revision.
  document_info renew_lease(std::string_view name, const caller& who, clock::duration ttl);
  document_info cancel_lease(std::string_view name, const caller& who);
  // Removes every document whose lease expired at or before now, each removal taking a
  // revision. Returns the names removed, oldest expiry first.
  std::vector<std::string> reap(clock::time_point now = clock::now());

  // Watches. The changes after revision `after` to documents under prefix, oldest first,
  // limited to documents principal could read when they changed. Throws
  // store_error(history_lost) when some of those changes are no longer kept.
  std::vector<change> changes(std::string_view prefix, std::uint64_t after, const caller& who) const;
  // Like changes(), but waits up to timeout for at least one; empty on timeout or when
  // stop is requested. Wakes at once for writes through this store object and within a
  // short poll interval for writes by other processes.
  std::vector<change> watch(std::string_view prefix, std::uint64_t after, const caller& who,
                            std::chrono::milliseconds timeout, std::stop_token stop = {}) const;

  // Credentials (see credentials.hpp). The local API trusts its caller's principal; a
  // server authenticates its clients' tokens with authenticate() and acts as the caller
  // it returns.
  // Issues a credential for who.principal(). Through a credential, the request must lie
  // within who's grant (xgate::access_denied "issue credential" otherwise) and the new
  // credential dies with that one. Returns the token; the store keeps only its hash.
  std::string issue_credential(const caller& who, const credential_request& request);
  // The caller a token stands for. store_error(bad_credential) for a token that is
  // unknown, expired, revoked, or issued through a credential that no longer holds.
  caller authenticate(std::string_view token) const;
  // For challenge-response protocols (the channel hub), which never see the token: the
  // token's hash and the caller the credential with this id stands for, when it holds
  // (nullopt when it is unknown, expired or revoked). The hash is secret-equivalent for
  // such a protocol: never log or send it.
  std::optional<credential_key> credential_key_of(std::string_view id) const;
  // The credentials issued for who.principal() (through who's own credential and its
  // children only, when who has one), in id order.
  std::vector<credential_info> credentials(const caller& who) const;
  // Revokes a credential of who.principal() (and so every credential issued through it).
  // store_error(not_found) for an id that is not one of them.
  void revoke_credential(std::string_view id, const caller& who);

  std::uint64_t revision() const;     // the last revision given out; 0 for a new store
  std::size_t map_size() const;       // the current LMDB map size in bytes
  // Reader slots left by dead processes pin old pages; open clears them, and a long-running
  // process sharing the store with others may call clear_stale_readers() now and then.
  int stale_readers_cleared_at_open() const noexcept;
  int clear_stale_readers();  // returns how many slots it cleared
  const std::filesystem::path& path() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// Calls on_change from its own thread with each group of changes under prefix after
// `after` that principal may see, oldest first, until destroyed (the destructor stops and
// joins the thread). The store must outlive the watcher. If watching fails (e.g.
// history_lost) or on_change throws, the watcher stops and error() holds the exception.
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
