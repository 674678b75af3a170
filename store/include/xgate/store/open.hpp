// The engine for where a store's data is, as `xgated --data` and `xgate store --data` take it,
// and copying a store from one engine to another.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include <xgate/store/engine.hpp>

namespace xgate::store {

// "postgresql://…" or "postgres://…" (a libpq URI): postgresql_engine; anything else: an
// LMDB directory, created if missing (lmdb_engine). Throws what those constructors throw.
[[nodiscard]] std::unique_ptr<engine> open_engine(std::string_view data);

struct copy_summary {
  std::size_t documents = 0, credentials = 0, changes = 0, indexes = 0;
  std::uint64_t revision = 0;  // the store's revision, the same in both
};

// Copies every record of from into to, as it is at one moment: documents with their bytes,
// rights, times and leases, credentials (hashes), indexes, the change log and the revision, so that
// to is the same store (watches resume, revisions go on). Moves a store from one engine to
// another (`xgate store copy`: LMDB into PostgreSQL). One read transaction of from and one
// write transaction of to: all of it or nothing. Throws store_error(conflict) when to is not
// a new store (its revision is not 0), and what the engines throw.
copy_summary copy_store(const engine& from, engine& to);

}  // namespace xgate::store
