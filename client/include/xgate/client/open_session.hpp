// Opening a store session from an address, as a result reference names its store:
//   "file:/abs/dir"     the store directory, opened in this process
//   "http://host:port"  an xgated server (http_session); "https://host:port" over TLS
//   "postgresql://…"    a PostgreSQL database (postgresql_engine), opened in this process
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <xgate/client/http_session.hpp>
#include <xgate/store/session.hpp>
#include <xgate/store/store.hpp>

namespace xgate::client {

// The stores this process opened, one per directory: LMDB breaks when a process opens the
// same files twice, so every local session on a directory must share one store object.
// Thread-safe. Sessions opened through the cache refer to its stores: it must outlive them.
class store_cache {
 public:
  store_cache() = default;
  store_cache(const store_cache&) = delete;
  store_cache& operator=(const store_cache&) = delete;

  // The store in dir (created if missing), opened on first request. Directories are told
  // apart by canonical path, so "d", "./d" and a symlink to d give the same store. options
  // apply only to the first opening of a directory.
  xgate::store::store& open(const std::filesystem::path& dir, const xgate::store::store_options& options = {});
  // The store in the PostgreSQL database at uri (postgresql_engine), opened on first request.
  xgate::store::store& open_database(const std::string& uri, const xgate::store::store_options& options = {});
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::filesystem::path, std::unique_ptr<xgate::store::store>> stores_;
  std::map<std::string, std::unique_ptr<xgate::store::store>> databases_;
};

// A session on the store at address, acting with credential:
//   file:DIR   credential "principal:NAME" acts as principal NAME with all its rights (the
//              process has the directory: the local API trusts it); any other credential
//              is a token, checked with store::authenticate (store_error(bad_credential)
//              when it does not hold). DIR should be absolute ("file:/abs/dir"); a
//              relative one is taken from the current directory.
//   postgresql://…, postgres://…   the same, on the database at that libpq URI.
//   http://…, https://…   http_session(address, credential, options).
// Anything else: client_error naming the address.
std::unique_ptr<xgate::store::session> open_session(std::string_view address, std::string credential, store_cache& cache,
                                                    client_options options = {});

}  // namespace xgate::client
