// The seam between what the store means and what keeps its bytes.
//
// xgate::store (store.hpp) holds every rule: names, rights, compare-and-set, creators,
// credentials and their chains, leases, the change log window, the revision order and the
// errors. An engine only keeps records and runs transactions: lmdb_engine and
// postgresql_engine; any other engine implements this header and must pass tests/store's
// conformance suite unchanged.
//
// Records are structured (document_info, change_record, credential_record), never bytes in
// the engine's own format: an engine may keep them as columns with indexes.
//
// Errors: an engine reports its own failures as store_error(CODE, operation, record, detail)
// with its own code (lmdb, postgresql; engine_unavailable when its server cannot be reached),
// the operation of the read() or write() call and the name of the record it was touching,
// and lets every exception thrown by the caller's function through unchanged. "Throws" below lists only what the engine adds.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <xgate/store/credentials.hpp>
#include <xgate/store/store.hpp>

namespace xgate::store {

// One change log entry: every revision is one change to one document.
struct change_record {
  std::uint64_t revision = 0;
  change_kind kind = change_kind::written;
  std::string name;
  // Who could read the document when it changed: its creator and read list (the other
  // lists are empty). They decide who sees the change, also once the document is gone.
  xgate::rights readers;
  // When the change was made; the epoch for a change kept by an older xgate (which is not
  // dropped for its age).
  clock::time_point at{};
  friend bool operator==(const change_record&, const change_record&) = default;
};

// A credential as kept: the token's hash and what it grants (never the token).
struct credential_record {
  std::string hash;  // BLAKE2b-256 of the token, 32 raw bytes: secret-equivalent
  credential_info info;
  friend bool operator==(const credential_record&, const credential_record&) = default;
};

// A declared index as kept (store.hpp's index_info).
using index_record = index_info;

// A view of the store inside one transaction: every call sees the same snapshot (and, in a
// write transaction, the transaction's own changes). Valid only inside the function given to
// engine::read or engine::write; everything it returns is a copy the caller owns.
class read_transaction {
 public:
  virtual ~read_transaction() = default;

  // The metadata stored under name, expired lease or not (expiry is a rule, not the
  // engine's); nullopt when there is no document.
  virtual std::optional<document_info> info(std::string_view name) const = 0;
  // The bytes of the document under name, exactly as written. Throws store_error(lmdb) when
  // there is none: call it only for a name info() found in this transaction.
  virtual std::string bytes(std::string_view name) const = 0;
  // Calls each with the metadata of every document whose name starts with prefix (bytewise:
  // "a" also gives "ab") and sorts after `after` (bytewise; "" starts at the prefix), in
  // bytewise name order, until each returns false. "" and "" visit all. `after` lets a
  // listing go on where its last page ended, without visiting what came before.
  virtual void scan(std::string_view prefix, std::string_view after,
                    const std::function<bool(document_info&&)>& each) const = 0;

  // The last revision given out; 0 for a new store.
  virtual std::uint64_t revision() const = 0;
  // The revision of the oldest change log entry kept; nullopt when the log is empty.
  virtual std::optional<std::uint64_t> oldest_change() const = 0;
  // Calls each with every change log entry after revision `after`, oldest first, until each
  // returns false.
  virtual void changes_after(std::uint64_t after, const std::function<bool(change_record&&)>& each) const = 0;

  // The credential with this id; nullopt when there is none.
  virtual std::optional<credential_record> credential(std::string_view id) const = 0;
  // Every credential, in id order.
  virtual std::vector<credential_record> credentials() const = 0;

  // Every declared index, in id order.
  virtual std::vector<index_record> indexes() const = 0;
  // Calls each with the name of every document index id lists under value, in name order,
  // after the name `after` ("": from the first), until each returns false.
  virtual void index_lookup(std::string_view id, std::string_view value, std::string_view after,
                            const std::function<bool(std::string&&)>& each) const = 0;
};

// A read_transaction that also changes the store. Nothing is visible to others before the
// transaction commits, and all of it commits or none.
class write_transaction : public read_transaction {
 public:
  // Stores a document's bytes and metadata under info.name. stored is what info() gave for
  // that name earlier in this transaction (nullopt: nothing), so the engine can move the
  // document's lease index entry without reading it again.
  virtual void put(const document_info& info, std::string_view xml, const std::optional<document_info>& stored) = 0;
  // Replaces the metadata of the document stored as `stored` (same name, bytes unchanged).
  virtual void put_info(const document_info& info, const document_info& stored) = 0;
  // Removes the document stored as `stored`: bytes, metadata and lease index entry.
  virtual void erase(const document_info& stored) = 0;
  // Documents whose lease expired at or before up_to, oldest expiry first (ties in name
  // order): the lease index, so only those are visited.
  virtual std::vector<document_info> expired(clock::time_point up_to) = 0;

  virtual void set_revision(std::uint64_t revision) = 0;
  // Adds an entry to the change log; c.revision is higher than every entry before it.
  virtual void append_change(const change_record& c) = 0;
  // Drops every change log entry up to and including revision.
  virtual void drop_changes_through(std::uint64_t revision) = 0;

  // Adds a credential under c.info.id. Returns false (and changes nothing) when that id is
  // taken: two tokens sharing an id must not replace each other.
  [[nodiscard]] virtual bool insert_credential(const credential_record& c) = 0;
  virtual void erase_credential(std::string_view id) = 0;

  // Declares an index (without entries). Returns false (and changes nothing) when its id is
  // taken.
  [[nodiscard]] virtual bool insert_index(const index_record& r) = 0;
  // Removes an index and every entry it holds.
  virtual void erase_index(std::string_view id) = 0;
  // Makes index id list document name under exactly these values (each at most 64 bytes,
  // without repeats; none: the document leaves the index).
  virtual void set_index_entries(std::string_view id, std::string_view name, const std::vector<std::string>& values) = 0;
};

// Keeps the records and runs the transactions. One engine may be used from any number of
// threads at once; a store owns its engine.
class engine {
 public:
  virtual ~engine() = default;

  // Runs fn in a read transaction and returns once it has ended. operation and document
  // name what the caller is doing, for the engine's errors. Throws store_error(lmdb) when a
  // transaction cannot begin; whatever fn throws passes through.
  virtual void read(std::string_view operation, std::string_view document,
                    const std::function<void(const read_transaction&)>& fn) const = 0;
  // Runs fn in a write transaction and returns once it is durable: a write that returns
  // survives a crash. If fn throws, nothing it did happens and the exception passes through.
  // The engine may run fn more than once (LMDB when its map grows, another engine on a
  // serialization failure); only the last run counts, so fn must act only through the
  // transaction and keep nothing from an earlier run. Concurrent writes may share one
  // commit. Throws store_error(lmdb) when the transaction cannot begin or commit.
  virtual void write(std::string_view operation, std::string_view document,
                     const std::function<void(write_transaction&)>& fn) = 0;

  // How watches learn of commits by other processes. The store calls this once, when it
  // takes the engine, with a function that wakes its waiting watches (callable from any
  // thread, any number of times, until the engine is destroyed). An engine that is told of
  // foreign commits calls wake for each and returns nullopt; one that is not (LMDB) returns
  // the interval at which watches must look for themselves.
  virtual std::optional<std::chrono::milliseconds> detect_foreign_changes(std::function<void()> wake) = 0;

  // Where the store is, for session::address(): "file:/absolute/dir" for LMDB.
  virtual std::string address() const = 0;
};

}  // namespace xgate::store
