// The engine for where a store's data is, as `xgated --data` and `xgate store --data` take it.
#pragma once

#include <memory>
#include <string_view>

#include <xgate/store/engine.hpp>

namespace xgate::store {

// "postgresql://…" or "postgres://…" (a libpq URI): postgresql_engine; anything else: an
// LMDB directory, created if missing (lmdb_engine). Throws what those constructors throw.
[[nodiscard]] std::unique_ptr<engine> open_engine(std::string_view data);

}  // namespace xgate::store
