// The engines the store's conformance suite runs on. The suite (TEST_P on StoreConformance
// in tests/store) tests what the store means; a new engine joins by adding its factory to
// store_engines() and must pass the suite unchanged.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <cstdio>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <xgate/store/engine.hpp>
#include <xgate/store/lmdb_engine.hpp>
#include <xgate/store/postgresql_engine.hpp>
#include <xgate/store/store.hpp>

#include "postgresql.hpp"
#include "test_dir.hpp"

namespace xgate::store::testing {

struct store_engine_factory {
  std::string name;  // ends the test names ("…/lmdb"): letters, digits and '_' only
  // Opens the engine on the data kept for place (a fresh test directory): a new place gives
  // an empty store, the same place again reopens its data, also in a child after fork().
  std::function<std::unique_ptr<engine>(const std::filesystem::path& place)> open;
  // Removes the data kept for place.
  std::function<void(const std::filesystem::path& place)> remove;
  // gtest prints a test's parameter: the engine's name, not its bytes.
  friend void PrintTo(const store_engine_factory& f, std::ostream* os) { *os << f.name; }
};

// A database per place, in the program's one PostgreSQL cluster.
inline std::string postgresql_database_of(const std::filesystem::path& place) {
  char name[32];
  std::snprintf(name, sizeof name, "place_%016zx", std::hash<std::string>{}(place.string()));
  return name;
}

inline const std::vector<store_engine_factory>& store_engines() {
  static const std::vector<store_engine_factory> engines{
      {"lmdb", [](const std::filesystem::path& place) { return std::make_unique<lmdb_engine>(place); },
       [](const std::filesystem::path& place) { std::filesystem::remove_all(place); }},
      {"postgresql",
       [](const std::filesystem::path& place) -> std::unique_ptr<engine> {
         auto& cluster = xgate::testing::postgresql_cluster::shared();
         cluster.create_database(postgresql_database_of(place));
         return std::make_unique<postgresql_engine>(cluster.uri(postgresql_database_of(place)));
       },
       [](const std::filesystem::path& place) {
         xgate::testing::postgresql_cluster::shared().drop_database(postgresql_database_of(place));
       }},
  };
  return engines;
}

// A fresh place per test on each engine in turn, removed afterwards.
class StoreConformance : public ::testing::TestWithParam<store_engine_factory> {
 protected:
  std::filesystem::path dir = fresh_dir();
  ~StoreConformance() override { GetParam().remove(dir); }
  // The store on this test's engine and place; called again, the same data reopened.
  store open(store_options options = {}) const { return store(GetParam().open(dir), options); }
};

// The LMDB engine under s, for LMDB-specific tests.
inline lmdb_engine& lmdb_of(store& s) { return dynamic_cast<lmdb_engine&>(s.engine()); }

}  // namespace xgate::store::testing
