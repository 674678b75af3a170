#include <xgate/store/open.hpp>

#include <filesystem>
#include <string>

#include <xgate/store/lmdb_engine.hpp>
#include <xgate/store/postgresql_engine.hpp>

namespace xgate::store {

std::unique_ptr<engine> open_engine(std::string_view data) {
  if (postgresql_engine::is_address(data)) return std::make_unique<postgresql_engine>(std::string(data));
  return std::make_unique<lmdb_engine>(std::filesystem::path(data));
}

}  // namespace xgate::store
