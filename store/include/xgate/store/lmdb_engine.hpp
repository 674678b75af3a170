// The store's records in an LMDB environment: one directory, six named databases.
//   docs    name -> the document's bytes, exactly as written
//   meta    name -> its document_info, a small record
//   sys     "revision" -> the store's last revision
//   changes revision (big-endian) -> the change_record
//   leases  expiry (big-endian ns) + name -> nothing: the lease index
//   creds   credential id -> the credential_record
// Metadata lives apart from the bytes so that listing and rights checks read a few dozen
// bytes per document instead of paging in whole documents.
//
// Writes: every commit is an fsync, and LMDB has one writer at a time, so concurrent
// writes are grouped: one thread runs every queued write in one LMDB transaction, each in a
// nested transaction of its own (a write that fails is rolled back alone), and commits them
// with one fsync. A write returns only after that commit. Writes of one thread keep their
// order. When a transaction fills the map, the map doubles and the group runs again; a map
// grown by another process is adopted.
//
// Processes: several may open the same directory, but a process must open it only once
// (LMDB's rule: a second environment on the same files in one process breaks its locks), and
// an engine must not be used in a child after fork(). Readers never block each other or the
// writer, except for the moment the map grows.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>

#include <xgate/store/engine.hpp>

namespace xgate::store {

struct lmdb_options {
  // The map starts at this size and doubles whenever a write transaction fills it.
  std::size_t initial_map_size = std::size_t{64} << 20;
  unsigned max_readers = 126;  // concurrent read transactions (LMDB reader slots)
};

class lmdb_engine final : public engine {
 public:
  // Opens the environment in dir, creating the directory (mode 0700, its files 0600) and the
  // databases if missing, and clears reader slots left by dead processes. Throws store_error
  // with operation "open" and dir as the document: insecure_permissions when users other than
  // the owner may write dir or its files (the message names the path and its mode), lmdb
  // for any other failure.
  // A write that fails because the file system is full throws store_error(no_space).
  explicit lmdb_engine(const std::filesystem::path& dir, lmdb_options options = {});
  ~lmdb_engine() override;
  lmdb_engine(const lmdb_engine&) = delete;
  lmdb_engine& operator=(const lmdb_engine&) = delete;

  void read(std::string_view operation, std::string_view document,
            const std::function<void(const read_transaction&)>& fn) const override;
  void write(std::string_view operation, std::string_view document,
             const std::function<void(write_transaction&)>& fn) override;
  // LMDB does not tell: watches poll every 50 ms.
  std::optional<std::chrono::milliseconds> detect_foreign_changes(std::function<void()> wake) override;
  std::string address() const override;  // "file:" + the absolute directory

  const std::filesystem::path& path() const noexcept;  // the directory, as given
  // The current map size in bytes. Throws store_error(lmdb).
  [[nodiscard]] std::size_t map_size() const;
  // Reader slots left by dead processes pin old pages; open clears them, and a long-running
  // process sharing the store with others may call clear_stale_readers() now and then.
  [[nodiscard]] int stale_readers_cleared_at_open() const noexcept;
  // Returns how many slots it cleared. Throws store_error(lmdb).
  int clear_stale_readers();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace xgate::store
