#include <xgate/store/lmdb_engine.hpp>

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <vector>

#include "lmdb_transaction.hpp"
#include "write_queue.hpp"

namespace xgate::store {

using lmdb::check;
using lmdb::map_full;

namespace {

// mdb_env_set_mapsize may only be called while this process has no transaction open, so
// every transaction passes this gate, and growing the map waits until all have left.
// Growing has priority over new transactions so that a stream of readers cannot starve it
// (std::shared_mutex on glibc prefers readers).
class txn_gate {
 public:
  void enter() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !exclusive_; });
    ++active_;
  }
  void leave() {
    std::lock_guard lock(mutex_);
    if (--active_ == 0) changed_.notify_all();
  }
  void enter_exclusive() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !exclusive_; });
    exclusive_ = true;  // from here on no new transaction starts
    changed_.wait(lock, [&] { return active_ == 0; });
  }
  void leave_exclusive() {
    std::lock_guard lock(mutex_);
    exclusive_ = false;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int active_ = 0;
  bool exclusive_ = false;
};

// A top-level LMDB transaction inside the gate; aborted unless committed.
class txn {
 public:
  txn(MDB_env* env, txn_gate& gate, bool write, int& begin_rc) : gate_(gate) {
    gate_.enter();
    begin_rc = mdb_txn_begin(env, nullptr, write ? 0 : MDB_RDONLY, &txn_);
    if (begin_rc != MDB_SUCCESS) {
      txn_ = nullptr;
      gate_.leave();
      entered_ = false;
    }
  }
  ~txn() {
    if (txn_) mdb_txn_abort(txn_);
    if (entered_) gate_.leave();
  }
  txn(const txn&) = delete;
  txn& operator=(const txn&) = delete;
  MDB_txn* get() const noexcept { return txn_; }
  void commit(std::string_view operation, std::string_view document) {
    int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;  // committed or, on failure, already freed by LMDB
    check(rc, operation, document);
  }

 private:
  txn_gate& gate_;
  MDB_txn* txn_ = nullptr;
  bool entered_ = true;
};

// The store holds documents and credential hashes: its directory is created 0700 and its
// files 0600 (only the owner reads them, as PostgreSQL keeps its data directory), and a
// store that users other than its owner may write is refused, since they could change
// documents, rights and credentials behind the store's back.
void refuse_if_others_may_write(const std::filesystem::path& p, const std::string& where) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return;  // not there yet: created private below
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) == 0) return;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  throw store_error(store_errc::insecure_permissions, "open", where,
                    p.string() + " has mode " + mode + ": users other than its owner may write it (chmod go-w " +
                        p.string() + ")");
}

void make_private_dir(const std::filesystem::path& dir, const std::string& where) {
  std::error_code ec;
  if (dir.has_parent_path()) std::filesystem::create_directories(dir.parent_path(), ec);
  if (ec) throw store_error(store_errc::lmdb, "open", where, ec.message());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throw store_error(store_errc::lmdb, "open", where, std::strerror(errno));
}

}  // namespace

struct lmdb_engine::impl {
  std::filesystem::path path;
  MDB_env* env = nullptr;
  lmdb::databases dbs;
  int stale_readers = 0;
  mutable txn_gate gate;

  // Group commit (see lmdb_engine.hpp).
  write_queue writers{256};

  ~impl() {
    if (env) mdb_env_close(env);
  }

  // Another process grew the map: adopt its size (mapsize 0 = the size in the file).
  void adopt_map_size() const {
    gate.enter_exclusive();
    int rc = mdb_env_set_mapsize(env, 0);
    gate.leave_exclusive();
    check(rc, "adopt map size", "");
  }

  std::size_t current_map_size() const {
    MDB_envinfo info;
    check(mdb_env_info(env, &info), "map size", "");
    return info.me_mapsize;
  }

  // Doubles the map that was too small, unless another writer grew it meanwhile.
  void grow_map(std::size_t too_small, std::string_view operation, std::string_view document) {
    gate.enter_exclusive();
    MDB_envinfo info;
    int rc = mdb_env_info(env, &info);
    if (rc == MDB_SUCCESS && info.me_mapsize == too_small) rc = mdb_env_set_mapsize(env, too_small * 2);
    gate.leave_exclusive();
    check(rc, operation, document);
  }

  void run_group(const std::vector<write_request*>& group) {
    for (;;) {
      std::size_t map_size = 0;
      std::string_view operation = group.front()->operation, document = group.front()->document;
      try {
        int rc;
        txn t(env, gate, true, rc);
        if (rc == MDB_MAP_RESIZED) {
          adopt_map_size();
          continue;
        }
        for (write_request* r : group) r->error = nullptr;
        if (rc != MDB_SUCCESS) {
          fail_all(group, rc);
          return;
        }
        map_size = current_map_size();
        for (write_request* r : group) {
          MDB_txn* child = nullptr;
          rc = mdb_txn_begin(env, t.get(), 0, &child);
          if (rc == MDB_MAP_FULL) throw map_full{};
          if (rc != MDB_SUCCESS) {
            r->error = std::make_exception_ptr(store_error(store_errc::lmdb, r->operation, r->document, mdb_strerror(rc), rc));
            continue;
          }
          try {
            lmdb::transaction view(child, dbs, r->operation);
            (*r->run)(view);
          } catch (const map_full&) {
            mdb_txn_abort(child);
            throw;
          } catch (...) {
            mdb_txn_abort(child);
            r->error = std::current_exception();
            continue;
          }
          rc = mdb_txn_commit(child);
          if (rc == MDB_MAP_FULL) throw map_full{};
          if (rc != MDB_SUCCESS)
            r->error = std::make_exception_ptr(store_error(store_errc::lmdb, r->operation, r->document, mdb_strerror(rc), rc));
        }
        t.commit(operation, document);
        return;
      } catch (const map_full&) {
        grow_map(map_size, operation, document);  // then run the whole group again
      } catch (const store_error& e) {
        fail_all(group, e.lmdb_code());  // the commit failed: none of it happened
        return;
      }
    }
  }

  void fail_all(const std::vector<write_request*>& group, int rc) const {
    for (write_request* r : group) r->error = std::make_exception_ptr(failure(rc, r->operation, r->document));
  }

  // A failed commit as the store reports it. LMDB reports a full disk as EIO when a write
  // comes up short; with the file system all but full, that is what happened.
  store_error failure(int rc, std::string_view operation, std::string_view document) const {
    struct statvfs fs {};
    bool full = rc == ENOSPC || (rc == EIO && ::statvfs(path.c_str(), &fs) == 0 &&
                                 static_cast<unsigned long long>(fs.f_bavail) * fs.f_frsize < (1u << 20));
    if (!full) return store_error(store_errc::lmdb, operation, document, mdb_strerror(rc), rc);
    return store_error(store_errc::no_space, operation, document,
                       "no space left on device (the file system of " + path.string() + " is full)", ENOSPC);
  }

  // A write transaction of its own: for opening the databases (mdb_dbi_open must not run
  // in a nested transaction alongside others).
  void open_databases(std::string_view where) {
    for (;;) {
      std::size_t map_size = 0;
      try {
        int rc;
        txn t(env, gate, true, rc);
        if (rc == MDB_MAP_RESIZED) {  // t never started and has left the gate
          adopt_map_size();
          continue;
        }
        check(rc, "open", where);
        map_size = current_map_size();  // fixed while t is open
        check(mdb_dbi_open(t.get(), "docs", MDB_CREATE, &dbs.docs), "open", where);
        check(mdb_dbi_open(t.get(), "meta", MDB_CREATE, &dbs.meta), "open", where);
        check(mdb_dbi_open(t.get(), "sys", MDB_CREATE, &dbs.sys), "open", where);
        check(mdb_dbi_open(t.get(), "leases", MDB_CREATE, &dbs.leases), "open", where);
        check(mdb_dbi_open(t.get(), "changes", MDB_CREATE, &dbs.changes), "open", where);
        check(mdb_dbi_open(t.get(), "creds", MDB_CREATE, &dbs.creds), "open", where);
        check(mdb_dbi_open(t.get(), "indexes", MDB_CREATE, &dbs.indexes), "open", where);
        check(mdb_dbi_open(t.get(), "index_entries", MDB_CREATE, &dbs.index_entries), "open", where);
        check(mdb_dbi_open(t.get(), "index_names", MDB_CREATE, &dbs.index_names), "open", where);
        t.commit("open", where);
        return;
      } catch (const map_full&) {
        grow_map(map_size, "open", where);
      }
    }
  }
};

lmdb_engine::lmdb_engine(const std::filesystem::path& dir, lmdb_options options) : impl_(std::make_unique<impl>()) {
  impl_->path = dir;
  std::string where = dir.string();
  make_private_dir(dir, where);
  for (const char* file : {"", "data.mdb", "lock.mdb"}) refuse_if_others_may_write(*file ? dir / file : dir, where);
  check(mdb_env_create(&impl_->env), "open", where);
  check(mdb_env_set_maxdbs(impl_->env, 9), "open", where);
  check(mdb_env_set_maxreaders(impl_->env, options.max_readers), "open", where);
  check(mdb_env_set_mapsize(impl_->env, options.initial_map_size), "open", where);
  // MDB_NOTLS: a reader slot belongs to a transaction, not to a thread, so threads may
  // come and go without pinning slots.
  check(mdb_env_open(impl_->env, where.c_str(), MDB_NOTLS, 0600), "open", where);
  check(mdb_reader_check(impl_->env, &impl_->stale_readers), "open", where);
  impl_->open_databases(where);
}

lmdb_engine::~lmdb_engine() = default;

void lmdb_engine::read(std::string_view operation, std::string_view document,
                       const std::function<void(const read_transaction&)>& fn) const {
  for (;;) {
    int rc;
    txn t(impl_->env, impl_->gate, false, rc);
    if (rc == MDB_MAP_RESIZED) {
      impl_->adopt_map_size();
      continue;
    }
    check(rc, operation, document);
    // LMDB registers a reader at the newest transaction id and copies that id's meta page
    // afterwards; if two commits land in between, the copy is of a newer snapshot than the
    // id, and the next read may then go back in time. Such a snapshot is retried: once the
    // newest meta is at most one ahead, the copied one was never overwritten.
    MDB_envinfo info;
    check(mdb_env_info(impl_->env, &info), operation, document);
    if (info.me_last_txnid > mdb_txn_id(t.get()) + 1) continue;
    fn(lmdb::transaction(t.get(), impl_->dbs, operation));
    return;
  }
}

void lmdb_engine::write(std::string_view operation, std::string_view document,
                        const std::function<void(write_transaction&)>& fn) {
  write_request r;
  r.run = &fn;
  r.operation = operation;
  r.document = document;
  impl_->writers.submit(r, [this](const std::vector<write_request*>& group) { impl_->run_group(group); });
  if (r.error) std::rethrow_exception(r.error);
}

std::optional<std::chrono::milliseconds> lmdb_engine::detect_foreign_changes(std::function<void()>) {
  return std::chrono::milliseconds(50);
}

std::string lmdb_engine::address() const {
  return "file:" + std::filesystem::absolute(impl_->path).lexically_normal().string();
}

const std::filesystem::path& lmdb_engine::path() const noexcept { return impl_->path; }

std::size_t lmdb_engine::map_size() const { return impl_->current_map_size(); }

int lmdb_engine::stale_readers_cleared_at_open() const noexcept { return impl_->stale_readers; }

int lmdb_engine::clear_stale_readers() {
  int dead = 0;
  check(mdb_reader_check(impl_->env, &dead), "clear stale readers", impl_->path.string());
  return dead;
}

}  // namespace xgate::store
