#include <xgate/client/open_session.hpp>

#include <system_error>

#include <xgate/store/postgresql_engine.hpp>

namespace xgate::client {

xgate::store::store& store_cache::open(const std::filesystem::path& dir, const xgate::store::store_options& options) {
  namespace fs = std::filesystem;
  std::lock_guard lock(mutex_);
  // The directory must exist to have a canonical path; the store would create it anyway.
  std::error_code ec;
  fs::create_directories(dir, ec);
  fs::path key = fs::weakly_canonical(fs::absolute(dir), ec);
  if (ec) key = fs::absolute(dir).lexically_normal();
  auto& slot = stores_[key];
  if (!slot) {
    try {
      slot = std::make_unique<xgate::store::store>(key, options);
    } catch (...) {
      stores_.erase(key);
      throw;
    }
  }
  return *slot;
}

xgate::store::store& store_cache::open_database(const std::string& uri, const xgate::store::store_options& options) {
  std::lock_guard lock(mutex_);
  auto& slot = databases_[uri];
  if (!slot) {
    try {
      slot = std::make_unique<xgate::store::store>(std::make_unique<xgate::store::postgresql_engine>(uri), options);
    } catch (...) {
      databases_.erase(uri);
      throw;
    }
  }
  return *slot;
}

std::size_t store_cache::size() const {
  std::lock_guard lock(mutex_);
  return stores_.size() + databases_.size();
}

std::unique_ptr<xgate::store::session> open_session(std::string_view address, std::string credential, store_cache& cache,
                                                    client_options options) {
  constexpr std::string_view file = "file:", principal = "principal:";
  auto local = [&](xgate::store::store& s) {
    if (credential.starts_with(principal)) return xgate::store::local_session(s, credential.substr(principal.size()));
    return xgate::store::local_session(s, s.authenticate(credential));
  };
  if (address.starts_with(file)) {
    std::string_view dir = address.substr(file.size());
    // file:///abs/dir (URL form) as well as file:/abs/dir
    if (dir.starts_with("///")) dir.remove_prefix(2);
    if (dir.empty()) throw client_error(net_errc::bad_address, std::string(address), "no directory in the address");
    return local(cache.open(std::filesystem::path(dir)));
  }
  if (xgate::store::postgresql_engine::is_address(address)) return local(cache.open_database(std::string(address)));
  if (address.starts_with("http://") || address.starts_with("https://")) return http_session(std::string(address), std::move(credential), options);
  throw client_error(net_errc::bad_address, std::string(address), "not a store address (file:/dir, postgresql://…, http://host:port or https://host:port)");
}

}  // namespace xgate::client
