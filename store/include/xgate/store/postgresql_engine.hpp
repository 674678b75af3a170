// The store's records in a PostgreSQL database (libpq), for stores that must outlive one
// machine: several xgated processes may share one database, and PostgreSQL's replication
// keeps it on more than one machine.
//
//   xgate::store::store s(std::make_unique<postgresql_engine>("postgresql://xgate@db1,db2/xgate"
//                                                            "?target_session_attrs=read-write"));
//
// The address is a libpq connection URI or key=value string: several hosts, TLS (sslmode),
// passwords from ~/.pgpass or PGPASSWORD, as libpq reads them. The engine creates its tables
// (names starting xgate_) at its first open and keeps their version in xgate_schema; a
// database whose schema is newer than this xgate knows is refused.
//
// Order: every write transaction first locks the one row holding the store's revision, so
// writes commit one after another in revision order (from any number of processes), and a
// read sees a snapshot (REPEATABLE READ) holding every change up to the revision it reads.
// Watches are woken by NOTIFY xgate_changes after each commit, which only wakes: what changed
// is read from the change log table, so a lost notification delays nothing for longer than
// the listener's reconnect.
//
// Speed: writers that arrive while a commit runs share the next transaction (group commit,
// each in a savepoint so that one that fails is undone alone), and a transaction's writing
// statements are pipelined (sent without waiting; their outcome is read with the next
// answer the transaction needs). bench/README.md compares the engines.
//
// Errors: store_error(engine_unavailable) when the database cannot be reached or a connection
// breaks (worth a retry; a write whose commit was interrupted may or may not have happened:
// retry it with compare-and-set), store_error(postgresql) for anything else the database
// refuses, with its SQLSTATE. A connection that broke before a write committed is replaced
// and the write run again; a read is retried only when its transaction could not begin.
//
// Thread safety: any number of threads; each transaction takes a connection of its own from
// a pool. Unlike LMDB, a process may open the same database any number of times.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <xgate/store/engine.hpp>

namespace xgate::store {

struct postgresql_options {
  // Connections this engine holds at most (transactions beyond wait for one), besides the
  // one that listens for changes.
  std::size_t max_connections = 8;
};

class postgresql_engine final : public engine {
 public:
  // The schema version this xgate writes (xgate_schema.version).
  static constexpr int schema_version = 2;

  // Connects to the database at address and creates its tables if missing. Throws
  // store_error(engine_unavailable) when it cannot connect, store_error(postgresql) when the
  // database refuses the schema or holds a newer one.
  explicit postgresql_engine(std::string address, postgresql_options options = {});
  ~postgresql_engine() override;
  postgresql_engine(const postgresql_engine&) = delete;
  postgresql_engine& operator=(const postgresql_engine&) = delete;

  // True for the addresses this engine takes: "postgresql://…" and "postgres://…".
  static bool is_address(std::string_view address) noexcept;
  // address as it may be shown: "postgresql://USER@HOST:PORT,…/DATABASE", without its
  // password or options. Throws store_error(postgresql) when libpq cannot parse it.
  static std::string public_address(std::string_view address);

  void read(std::string_view operation, std::string_view document,
            const std::function<void(const read_transaction&)>& fn) const override;
  void write(std::string_view operation, std::string_view document,
             const std::function<void(write_transaction&)>& fn) override;
  std::optional<std::chrono::milliseconds> detect_foreign_changes(std::function<void()> wake) override;
  // public_address() of the address given.
  std::string address() const override;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace xgate::store
