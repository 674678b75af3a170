#include <xgate/store/store.hpp>

#include <lmdb.h>
#include <sodium.h>
#include <pugixml.hpp>

#include <algorithm>
#include <functional>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <sstream>
#include <type_traits>

#include "doc_rights.hpp"

namespace xgate::store {

batch& batch::write(std::string name, std::string xml, write_options options) {
  ops_.push_back(op{false, std::move(name), std::move(xml), std::move(options)});
  return *this;
}

batch& batch::remove(std::string name) {
  ops_.push_back(op{true, std::move(name), {}, {}});
  return *this;
}

const char* to_string(change_kind k) noexcept {
  switch (k) {
    case change_kind::written: return "written";
    case change_kind::removed: return "removed";
    case change_kind::expired: return "expired";
  }
  return "?";
}

namespace {

// Thrown inside a write transaction when LMDB reports MDB_MAP_FULL: the transaction is
// aborted, the map grown and the transaction run again. Never leaves this file.
struct map_full {};

void check(int rc, std::string_view operation, std::string_view document) {
  if (rc == MDB_SUCCESS) return;
  if (rc == MDB_MAP_FULL) throw map_full{};
  throw store_error(store_errc::lmdb, operation, document, mdb_strerror(rc), rc);
}

MDB_val val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

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

// ---- metadata records ------------------------------------------------------------------
// revision u64, created ns i64, modified ns i64, size u64, embedded u8, then creator and
// the four principal lists, each as u32 length + bytes, then lease expiry ns i64 (0: no
// lease) and lease holder. Native byte order, like LMDB's
// own files, which do not move between architectures either.

template <class T>
void put_int(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}
void put_str(std::string& out, std::string_view s) {
  put_int(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

std::int64_t to_ns(clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
clock::time_point from_ns(std::int64_t ns) {
  return clock::time_point(std::chrono::duration_cast<clock::duration>(std::chrono::nanoseconds(ns)));
}

std::string encode_meta(const document_info& d) {
  std::string out;
  put_int(out, d.revision);
  put_int(out, to_ns(d.created));
  put_int(out, to_ns(d.modified));
  put_int(out, static_cast<std::uint64_t>(d.size));
  put_int(out, static_cast<std::uint8_t>(d.embedded_rights));
  put_str(out, d.rights.creator);
  for (right r : {right::read, right::write, right::del, right::copy}) put_str(out, join_principals(d.rights.list(r)));
  put_int(out, d.lease_expires ? to_ns(*d.lease_expires) : std::int64_t{0});
  put_str(out, d.lease_holder);
  return out;
}

class reader {
 public:
  reader(std::string_view in, std::string_view document) : in_(in), document_(document) {}
  template <class T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, in_.data(), sizeof(T));
    in_.remove_prefix(sizeof(T));
    return v;
  }
  std::string_view str() {
    auto n = get<std::uint32_t>();
    need(n);
    std::string_view s = in_.substr(0, n);
    in_.remove_prefix(n);
    return s;
  }

 private:
  void need(std::size_t n) {
    if (in_.size() < n) throw store_error(store_errc::lmdb, "read metadata", document_, "truncated metadata record");
  }
  std::string_view in_, document_;
};

document_info decode_meta(std::string_view name, std::string_view in) {
  reader r(in, name);
  document_info d;
  d.name = std::string(name);
  d.revision = r.get<std::uint64_t>();
  d.created = from_ns(r.get<std::int64_t>());
  d.modified = from_ns(r.get<std::int64_t>());
  d.size = static_cast<std::size_t>(r.get<std::uint64_t>());
  d.embedded_rights = r.get<std::uint8_t>() != 0;
  d.rights.creator = std::string(r.str());
  for (right k : {right::read, right::write, right::del, right::copy}) d.rights.list(k) = parse_principals(r.str());
  if (auto expires = r.get<std::int64_t>()) d.lease_expires = from_ns(expires);
  d.lease_holder = std::string(r.str());
  return d;
}

constexpr std::string_view revision_key = "revision";

bool expired(const document_info& d, clock::time_point now) { return d.lease_expires && *d.lease_expires <= now; }

// Keys of the changes and leases databases start with a big-endian number, so that
// LMDB's bytewise order is numeric order.
std::string be64(std::uint64_t n) {
  std::string k(8, '\0');
  for (int i = 7; i >= 0; --i, n >>= 8) k[static_cast<std::size_t>(i)] = static_cast<char>(n & 0xff);
  return k;
}
std::uint64_t from_be64(std::string_view key) {
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n = (n << 8) | static_cast<unsigned char>(key[static_cast<std::size_t>(i)]);
  return n;
}
std::string revision_key_bytes(std::uint64_t r) { return be64(r); }
std::uint64_t revision_of_key(std::string_view key) { return from_be64(key); }
std::string lease_key(const document_info& d) { return be64(static_cast<std::uint64_t>(to_ns(*d.lease_expires))) + d.name; }
std::int64_t lease_key_ns(std::string_view key) { return static_cast<std::int64_t>(from_be64(key)); }

// A change record: kind u8, name, creator, readers. The readers decide who may see it,
// also once the document is gone.
std::string encode_change(change_kind kind, std::string_view name, const xgate::rights& r) {
  std::string out;
  put_int(out, static_cast<std::uint8_t>(kind));
  put_str(out, name);
  put_str(out, r.creator);
  put_str(out, join_principals(r.read));
  return out;
}

// ---- credential records ----------------------------------------------------------------
// Key: the credential id (16 hex digits: the first 8 bytes of the token's hash). Value: the
// whole 32-byte hash, issued ns, then principal, scope, subtree u8, rights u8, expiry ns
// (0: none), parent id, label.
constexpr std::string_view token_prefix = "xgt1_";
constexpr std::size_t token_hash_bytes = 32;

struct credential_record {
  std::string hash;  // 32 raw bytes
  credential_info info;
};

std::string encode_credential(const credential_record& c) {
  std::string out = c.hash;
  put_int(out, to_ns(c.info.issued));
  put_str(out, c.info.granted.principal);
  put_str(out, c.info.granted.scope);
  put_int(out, static_cast<std::uint8_t>(c.info.granted.subtree));
  put_int(out, c.info.granted.rights.bits());
  put_int(out, c.info.granted.expires ? to_ns(*c.info.granted.expires) : std::int64_t{0});
  put_str(out, c.info.parent);
  put_str(out, c.info.label);
  return out;
}

credential_record decode_credential(std::string_view id, std::string_view in) {
  if (in.size() < token_hash_bytes) throw store_error(store_errc::lmdb, "read credential", id, "truncated credential record");
  credential_record c;
  c.hash = std::string(in.substr(0, token_hash_bytes));
  reader r(in.substr(token_hash_bytes), id);
  c.info.id = std::string(id);
  c.info.issued = from_ns(r.get<std::int64_t>());
  c.info.granted.principal = std::string(r.str());
  c.info.granted.scope = std::string(r.str());
  c.info.granted.subtree = r.get<std::uint8_t>() != 0;
  c.info.granted.rights = right_set::from_bits(r.get<std::uint8_t>());
  if (auto expires = r.get<std::int64_t>()) c.info.granted.expires = from_ns(expires);
  c.info.parent = std::string(r.str());
  c.info.label = std::string(r.str());
  return c;
}

std::string token_hash(std::string_view token) {
  std::string h(token_hash_bytes, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(h.data()), h.size(), reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  return h;
}

std::string credential_id(std::string_view hash) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string id;
  for (std::size_t i = 0; i < 8; ++i) {
    auto b = static_cast<unsigned char>(hash[i]);
    id += digits[b >> 4];
    id += digits[b & 15];
  }
  return id;
}

std::string new_token() {
  if (sodium_init() < 0) throw store_error(store_errc::bad_credential, "issue credential", "", "libsodium failed to initialize");
  unsigned char random[32];
  randombytes_buf(random, sizeof random);
  char text[sodium_base64_ENCODED_LEN(sizeof random, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(text, sizeof text, random, sizeof random, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(random, sizeof random);
  return std::string(token_prefix) + text;
}

struct holding {
  std::optional<credential_record> record;
  std::string refusal;
};

std::string conflict_detail(std::uint64_t expected, const std::optional<document_info>& current) {
  return "revision conflict (expected " + std::to_string(expected) + ", current " +
         (current ? std::to_string(current->revision) : std::string("none")) + ")";
}

}  // namespace

namespace {
// A caller may do r on a document when the document's rights allow its principal and its
// credential, if it acts through one, covers r on the name.
bool allowed(const caller& who, const xgate::rights& rights, std::string_view name, right r) {
  return who.may(name, r) && rights.allows(who.principal(), r);
}
}  // namespace

struct store::impl {
  std::filesystem::path path;
  MDB_env* env = nullptr;
  MDB_dbi docs = 0, meta = 0, sys = 0, leases = 0, changes = 0, creds = 0;
  std::uint64_t kept_changes = 0;
  std::size_t max_document_size = 0;
  int stale_readers = 0;
  mutable txn_gate gate;
  // Watchers in this process wait here; every committed write bumps the generation.
  mutable std::mutex watch_mutex;
  mutable std::condition_variable_any watch_cv;  // _any: waits can be cut short by a stop_token
  std::uint64_t generation = 0;

  void committed() {
    {
      std::lock_guard lock(watch_mutex);
      ++generation;
    }
    watch_cv.notify_all();
  }

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

  template <class F>
  auto in_read(std::string_view operation, std::string_view document, F&& f) const {
    for (;;) {
      int rc;
      txn t(env, gate, false, rc);
      if (rc == MDB_MAP_RESIZED) {
        adopt_map_size();
        continue;
      }
      check(rc, operation, document);
      return f(t.get());
    }
  }

  // ---- group commit ------------------------------------------------------------------------
  // Every commit is an fsync, and LMDB has one writer at a time, so concurrent writers
  // would queue for one fsync each. Instead, writers hand their work to a group: one thread
  // (the leader) runs every queued request in one write transaction, each in a nested
  // transaction of its own so that a request that fails is rolled back alone, and commits
  // them all with one fsync. A request returns only after that commit: acknowledged means
  // durable, as before. Requests of one thread keep their order.
  struct write_request {
    std::function<void(MDB_txn*)> run;  // does the work in the given (nested) transaction
    std::string_view operation, document;
    std::exception_ptr error;
    bool done = false;
    bool lead = false;  // handed the leadership by the previous leader
  };
  std::mutex group_mutex;
  std::condition_variable group_cv;
  std::vector<write_request*> group_queue;
  bool group_leader = false;
  static constexpr std::size_t max_group = 256;

  void submit(write_request& r) {
    std::unique_lock lock(group_mutex);
    group_queue.push_back(&r);
    if (group_leader) {
      group_cv.wait(lock, [&] { return r.done || r.lead; });
      if (r.done) return;
    }
    group_leader = true;
    r.lead = false;
    // Lead one group (which includes r: the queue is served in order), then hand over.
    std::vector<write_request*> group;
    std::size_t n = std::min(group_queue.size(), max_group);
    group.assign(group_queue.begin(), group_queue.begin() + static_cast<std::ptrdiff_t>(n));
    group_queue.erase(group_queue.begin(), group_queue.begin() + static_cast<std::ptrdiff_t>(n));
    lock.unlock();
    try {
      run_group(group);
    } catch (...) {  // e.g. bad_alloc: whatever did not finish failed, and the queue goes on
      for (write_request* g : group)
        if (!g->error) g->error = std::current_exception();
    }
    lock.lock();
    for (write_request* g : group) g->done = true;
    if (group_queue.empty()) {
      group_leader = false;
    } else {
      group_queue.front()->lead = true;
    }
    group_cv.notify_all();
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
            r->run(child);
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
        committed();
        return;
      } catch (const map_full&) {
        grow_map(map_size, operation, document);  // then run the whole group again
      } catch (const store_error& e) {
        fail_all(group, e.lmdb_code());  // the commit failed: none of it happened
        return;
      }
    }
  }

  static void fail_all(const std::vector<write_request*>& group, int rc) {
    for (write_request* r : group)
      r->error = std::make_exception_ptr(store_error(store_errc::lmdb, r->operation, r->document, mdb_strerror(rc), rc));
  }

  // Runs f in a write transaction shared with other threads' concurrent writes (see above)
  // and returns its result once that transaction is durable.
  template <class F>
  auto in_write(std::string_view operation, std::string_view document, F&& f) {
    using R = decltype(f(std::declval<MDB_txn*>()));
    write_request r;
    r.operation = operation;
    r.document = document;
    if constexpr (std::is_void_v<R>) {
      r.run = [&](MDB_txn* t) { f(t); };
      submit(r);
      if (r.error) std::rethrow_exception(r.error);
    } else {
      std::optional<R> result;
      r.run = [&](MDB_txn* t) { result.emplace(f(t)); };  // a rerun (map grown) replaces it
      submit(r);
      if (r.error) std::rethrow_exception(r.error);
      return std::move(*result);
    }
  }

  // A write transaction of its own: for opening the databases (mdb_dbi_open must not run
  // in a nested transaction alongside others).
  template <class F>
  void in_write_alone(std::string_view operation, std::string_view document, F&& f) {
    for (;;) {
      std::size_t map_size = 0;
      try {
        int rc;
        txn t(env, gate, true, rc);
        if (rc == MDB_MAP_RESIZED) {  // t never started and has left the gate
          adopt_map_size();
          continue;
        }
        check(rc, operation, document);
        map_size = current_map_size();  // fixed while t is open
        f(t.get());
        t.commit(operation, document);
        committed();
        return;
      } catch (const map_full&) {
        grow_map(map_size, operation, document);
      }
    }
  }

  // The record as stored, expired lease or not.
  std::optional<document_info> get_raw_meta(MDB_txn* t, std::string_view name, std::string_view operation) const {
    MDB_val k = val(name), v;
    int rc = mdb_get(t, meta, &k, &v);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    check(rc, operation, name);
    return decode_meta(name, view(v));
  }
  // The document as the operations see it: one whose lease expired is gone.
  std::optional<document_info> get_meta(MDB_txn* t, std::string_view name, std::string_view operation) const {
    std::optional<document_info> d = get_raw_meta(t, name, operation);
    if (d && expired(*d, clock::now())) return std::nullopt;
    return d;
  }

  void put_meta(MDB_txn* t, const document_info& d, std::string_view operation) {
    std::string m = encode_meta(d);
    MDB_val k = val(d.name), v = val(m);
    check(mdb_put(t, meta, &k, &v, 0), operation, d.name);
    if (d.lease_expires) {
      std::string lk = lease_key(d);
      MDB_val lkv = val(lk), empty{0, nullptr};
      check(mdb_put(t, leases, &lkv, &empty, 0), operation, d.name);
    }
  }

  void drop_lease_entry(MDB_txn* t, const document_info& d, std::string_view operation) {
    if (!d.lease_expires) return;
    std::string lk = lease_key(d);
    MDB_val k = val(lk);
    int rc = mdb_del(t, leases, &k, nullptr);
    if (rc != MDB_NOTFOUND) check(rc, operation, d.name);
  }

  std::string get_bytes(MDB_txn* t, std::string_view name, std::string_view operation) const {
    MDB_val k = val(name), v;
    check(mdb_get(t, docs, &k, &v), operation, name);
    return std::string(view(v));
  }

  std::uint64_t current_revision(MDB_txn* t) const {
    MDB_val k = val(revision_key), v;
    int rc = mdb_get(t, sys, &k, &v);
    if (rc == MDB_NOTFOUND) return 0;
    check(rc, "read revision", "");
    return reader(view(v), "").get<std::uint64_t>();
  }

  // Takes the next revision for a change to document and records it in the change log,
  // dropping the entry that falls out of the kept window.
  std::uint64_t next_revision(MDB_txn* t, std::string_view operation, std::string_view document, change_kind kind,
                              const xgate::rights& rights) {
    std::uint64_t r = current_revision(t) + 1;
    std::string b;
    put_int(b, r);
    MDB_val k = val(revision_key), v = val(b);
    check(mdb_put(t, sys, &k, &v, 0), operation, document);
    std::string ck = revision_key_bytes(r), cv = encode_change(kind, document, rights);
    MDB_val ckv = val(ck), cvv = val(cv);
    check(mdb_put(t, changes, &ckv, &cvv, 0), operation, document);
    if (r > kept_changes) {
      // From the oldest entry, not just r - kept_changes: a store reopened with a smaller
      // window must not leave a gap that changes() could not detect.
      MDB_cursor* c = nullptr;
      check(mdb_cursor_open(t, changes, &c), operation, document);
      std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> guard(c, mdb_cursor_close);
      MDB_val ok, ov;
      int rc;
      while ((rc = mdb_cursor_get(c, &ok, &ov, MDB_FIRST)) == MDB_SUCCESS && revision_of_key(view(ok)) <= r - kept_changes)
        check(mdb_cursor_del(c, 0), operation, document);
      if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) check(rc, operation, document);
    }
    return r;
  }

  // The rights a write of xml under name would give the document.
  static std::pair<xgate::rights, bool> rights_for(std::string_view xml, std::string_view name, const caller& who,
                                                   const write_options& o, const std::optional<document_info>& current,
                                                   std::string_view operation) {
    if (auto embedded = detail::embedded_rights(xml, operation, name)) {
      if (o.rights && *o.rights != *embedded)
        throw store_error(store_errc::bad_document, operation, name,
                          "the document carries its own rights, which differ from the rights supplied");
      return {std::move(*embedded), true};
    }
    if (o.rights) return {*o.rights, false};
    if (current) return {current->rights, false};
    return {xgate::rights::owned_by(who.principal()), false};
  }

  // Writes one document inside t. forced: the rights of a copied document (its bytes
  // and rights travel together, creator included).
  document_info put(MDB_txn* t, std::string_view operation, std::string_view name, std::string_view xml,
                    const caller& who, const write_options& o,
                    const std::optional<std::pair<xgate::rights, bool>>& forced = std::nullopt) {
    check_name(operation, name);
    std::optional<document_info> stored = get_raw_meta(t, name, operation);
    std::optional<document_info> current = stored && !expired(*stored, clock::now()) ? stored : std::nullopt;
    if (o.expected_revision && (current ? current->revision : 0) != *o.expected_revision)
      throw store_error(store_errc::conflict, operation, name, conflict_detail(*o.expected_revision, current));
    if (xml.size() > max_document_size)
      throw store_error(store_errc::too_large, operation, name,
                        "the document has " + std::to_string(xml.size()) + " bytes, more than the limit of " +
                            std::to_string(max_document_size));
    if (current ? !allowed(who, current->rights, name, right::write) : !who.may(name, right::write))
      throw xgate::access_denied(who.principal(), "write", std::string(name));
    auto [rights, embedded] = forced ? *forced : rights_for(xml, name, who, o, current, operation);
    if (current) {
      if (rights.creator != current->rights.creator)
        throw store_error(store_errc::creator_mismatch, operation, name,
                          "the document claims creator \"" + printable(rights.creator) + "\" but was created by \"" +
                              printable(current->rights.creator) + "\"");
      if (rights != current->rights && who.principal() != current->rights.creator)
        throw store_error(store_errc::rights_change, operation, name,
                          "only the creator \"" + printable(current->rights.creator) + "\" may change the rights");
    } else if (!forced) {
      if (!is_valid_principal(who.principal()))
        throw xgate::access_denied(who.principal(), "write", std::string(name));
      if (rights.creator != who.principal())
        throw store_error(store_errc::creator_mismatch, operation, name,
                          "a new document's creator must be the writing principal \"" + printable(who.principal()) +
                              "\", the document claims \"" + printable(rights.creator) + "\"");
    }
    // An expired document this write replaces leaves as it would by reap(): watchers see
    // it expire before the new document appears.
    if (stored && !current) next_revision(t, operation, name, change_kind::expired, stored->rights);
    document_info d;
    d.name = std::string(name);
    d.revision = next_revision(t, operation, name, change_kind::written, rights);
    d.modified = clock::now();
    d.created = current ? current->created : d.modified;
    d.size = xml.size();
    d.rights = std::move(rights);
    d.embedded_rights = embedded;
    if (o.lease) {
      d.lease_expires = d.modified + *o.lease;
      d.lease_holder = who.principal();
    } else if (current) {
      d.lease_expires = current->lease_expires;
      d.lease_holder = current->lease_holder;
    }
    if (stored) drop_lease_entry(t, *stored, operation);
    MDB_val k = val(name), v = val(xml);
    check(mdb_put(t, docs, &k, &v, 0), operation, name);
    put_meta(t, d, operation);
    return d;
  }

  void del(MDB_txn* t, const document_info& d, std::string_view operation, change_kind kind = change_kind::removed) {
    drop_lease_entry(t, d, operation);
    std::string_view name = d.name;
    MDB_val k = val(name);
    check(mdb_del(t, docs, &k, nullptr), operation, name);
    check(mdb_del(t, meta, &k, nullptr), operation, name);
    next_revision(t, operation, name, kind, d.rights);  // a removal is a change too
  }

  std::optional<credential_record> get_credential(MDB_txn* t, std::string_view id, std::string_view operation) const {
    MDB_val k = val(id), v;
    int rc = mdb_get(t, creds, &k, &v);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    check(rc, operation, id);
    return decode_credential(id, view(v));
  }

  // Whether the credential id stands for a caller now: it exists, and neither it nor any
  // credential it was issued through is expired or revoked. Otherwise the reason.
  holding check_holding(MDB_txn* t, const std::string& id, std::string_view op) const {
    std::optional<credential_record> c = get_credential(t, id, op);
    if (!c) return {std::nullopt, "unknown or revoked token"};
    clock::time_point now = clock::now();
    if (c->info.granted.expires && *c->info.granted.expires <= now) return {std::nullopt, "credential " + id + " expired"};
    // A child holds only while every credential it was issued through holds. Ids are
    // fresh random values, so the chain cannot loop; the bound is a guard all the same.
    std::string parent = c->info.parent;
    for (int depth = 0; !parent.empty(); ++depth) {
      std::optional<credential_record> p = get_credential(t, parent, op);
      if (!p || depth > 64) return {std::nullopt, "credential " + id + " was issued through a revoked credential"};
      if (p->info.granted.expires && *p->info.granted.expires <= now)
        return {std::nullopt, "credential " + id + " was issued through an expired credential"};
      parent = p->info.parent;
    }
    return {std::move(c), {}};
  }

  // Every credential, in id order.
  std::vector<credential_record> all_credentials(MDB_txn* t, std::string_view operation) const {
    std::vector<credential_record> out;
    MDB_cursor* c = nullptr;
    check(mdb_cursor_open(t, creds, &c), operation, "");
    std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> guard(c, mdb_cursor_close);
    MDB_val k, v;
    int rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == MDB_SUCCESS; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
      out.push_back(decode_credential(view(k), view(v)));
    if (rc != MDB_NOTFOUND) check(rc, operation, "");
    return out;
  }

  // Walks the metadata of every document under prefix that principal may read.
  template <class F>
  void each_readable(MDB_txn* t, std::string_view prefix, const caller& who, std::string_view operation,
                     F&& f) const {
    MDB_cursor* c = nullptr;
    check(mdb_cursor_open(t, meta, &c), operation, prefix);
    std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> guard(c, mdb_cursor_close);
    clock::time_point now = clock::now();
    MDB_val k = val(prefix), v;
    int rc = prefix.empty() ? mdb_cursor_get(c, &k, &v, MDB_FIRST) : mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    // Names sort bytewise, so "a-b" lies between "a" and "a/x": stop only once the key
    // no longer starts with the prefix, and test segment boundaries with is_under.
    for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
      std::string_view name = view(k);
      if (!name.starts_with(prefix)) break;
      if (!is_under(name, prefix)) continue;
      document_info d = decode_meta(name, view(v));
      if (expired(d, now) || !allowed(who, d.rights, d.name, right::read)) continue;
      if constexpr (std::is_same_v<decltype(f(t, std::move(d))), bool>) {
        if (!f(t, std::move(d))) return;  // the caller has enough
      } else {
        f(t, std::move(d));
      }
    }
    if (rc != MDB_NOTFOUND) check(rc, operation, prefix);
  }
};

store::store(const std::filesystem::path& dir, store_options options) : impl_(std::make_unique<impl>()) {
  impl_->path = dir;
  impl_->kept_changes = options.kept_changes < 1 ? 1 : options.kept_changes;
  impl_->max_document_size = options.max_document_size;
  std::string where = dir.string();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw store_error(store_errc::lmdb, "open", where, ec.message());
  check(mdb_env_create(&impl_->env), "open", where);
  check(mdb_env_set_maxdbs(impl_->env, 6), "open", where);
  check(mdb_env_set_maxreaders(impl_->env, options.max_readers), "open", where);
  check(mdb_env_set_mapsize(impl_->env, options.initial_map_size), "open", where);
  // MDB_NOTLS: a reader slot belongs to a transaction, not to a thread, so threads may
  // come and go without pinning slots.
  check(mdb_env_open(impl_->env, where.c_str(), MDB_NOTLS, 0664), "open", where);
  check(mdb_reader_check(impl_->env, &impl_->stale_readers), "open", where);
  impl_->in_write_alone("open", where, [&](MDB_txn* t) {
    check(mdb_dbi_open(t, "docs", MDB_CREATE, &impl_->docs), "open", where);
    check(mdb_dbi_open(t, "meta", MDB_CREATE, &impl_->meta), "open", where);
    check(mdb_dbi_open(t, "sys", MDB_CREATE, &impl_->sys), "open", where);
    check(mdb_dbi_open(t, "leases", MDB_CREATE, &impl_->leases), "open", where);
    check(mdb_dbi_open(t, "changes", MDB_CREATE, &impl_->changes), "open", where);
    check(mdb_dbi_open(t, "creds", MDB_CREATE, &impl_->creds), "open", where);
  });
}

store::~store() = default;

const std::filesystem::path& store::path() const noexcept { return impl_->path; }

document_info store::write(std::string_view name, std::string_view xml, const caller& who,
                           const write_options& options) {
  check_name("write", name);
  return impl_->in_write("write", name, [&](MDB_txn* t) { return impl_->put(t, "write", name, xml, who, options); });
}

document store::read(std::string_view name, const caller& who) const {
  check_name("read", name);
  return impl_->in_read("read", name, [&](MDB_txn* t) {
    std::optional<document_info> d = impl_->get_meta(t, name, "read");
    if (!d) throw store_error(store_errc::not_found, "read", name, "no such document");
    if (!allowed(who, d->rights, name, right::read)) throw xgate::access_denied(who.principal(), "read", std::string(name));
    return document{std::move(*d), impl_->get_bytes(t, name, "read")};
  });
}

document_info store::info(std::string_view name, const caller& who) const {
  check_name("info", name);
  return impl_->in_read("info", name, [&](MDB_txn* t) {
    std::optional<document_info> d = impl_->get_meta(t, name, "info");
    if (!d) throw store_error(store_errc::not_found, "info", name, "no such document");
    if (!allowed(who, d->rights, name, right::read)) throw xgate::access_denied(who.principal(), "read", std::string(name));
    return std::move(*d);
  });
}

bool store::contains(std::string_view name) const {
  check_name("contains", name);
  return impl_->in_read("contains", name, [&](MDB_txn* t) { return impl_->get_meta(t, name, "contains").has_value(); });
}

void store::remove(std::string_view name, const caller& who, std::optional<std::uint64_t> expected_revision) {
  check_name("remove", name);
  impl_->in_write("remove", name, [&](MDB_txn* t) {
    std::optional<document_info> d = impl_->get_meta(t, name, "remove");
    if (expected_revision && (d ? d->revision : 0) != *expected_revision)
      throw store_error(store_errc::conflict, "remove", name, conflict_detail(*expected_revision, d));
    if (!d) throw store_error(store_errc::not_found, "remove", name, "no such document");
    if (!allowed(who, d->rights, name, right::del)) throw xgate::access_denied(who.principal(), "delete", std::string(name));
    impl_->del(t, *d, "remove");
  });
}

document store::take(std::string_view name, const caller& who) {
  check_name("take", name);
  return impl_->in_write("take", name, [&](MDB_txn* t) {
    std::optional<document_info> d = impl_->get_meta(t, name, "take");
    if (!d) throw store_error(store_errc::not_found, "take", name, "no such document");
    for (right r : {right::read, right::del})
      if (!allowed(who, d->rights, name, r)) throw xgate::access_denied(who.principal(), to_string(r), std::string(name));
    document out{std::move(*d), impl_->get_bytes(t, name, "take")};
    impl_->del(t, out.info, "take");
    return out;
  });
}

document_info store::copy(std::string_view from, std::string_view to, const caller& who) {
  check_name("copy", from);
  check_name("copy", to);
  return impl_->in_write("copy", from, [&](MDB_txn* t) {
    std::optional<document_info> src = impl_->get_meta(t, from, "copy");
    if (!src) throw store_error(store_errc::not_found, "copy", from, "no such document");
    if (!allowed(who, src->rights, from, right::copy)) throw xgate::access_denied(who.principal(), "copy", std::string(from));
    std::string bytes = impl_->get_bytes(t, from, "copy");
    return impl_->put(t, "copy", to, bytes, who, {}, std::make_pair(src->rights, src->embedded_rights));
  });
}

std::vector<document_info> store::list(std::string_view prefix, const caller& who, std::size_t limit) const {
  prefix = check_prefix("list", prefix);
  return impl_->in_read("list", prefix, [&](MDB_txn* t) {
    std::vector<document_info> out;
    impl_->each_readable(t, prefix, who, "list", [&](MDB_txn*, document_info d) {
      out.push_back(std::move(d));
      return limit == 0 || out.size() < limit;
    });
    return out;
  });
}

std::vector<query_match> store::query(std::string_view prefix, std::string_view xpath, const caller& who) const {
  prefix = check_prefix("query", prefix);
  std::string expr(xpath);
  std::optional<pugi::xpath_query> q;
  try {
    q.emplace(expr.c_str());
  } catch (const pugi::xpath_exception& e) {
    throw store_error(store_errc::bad_xpath, "query", prefix,
                      "bad XPath \"" + printable(expr) + "\": " + e.what());
  }
  if (!*q) throw store_error(store_errc::bad_xpath, "query", prefix,
                             "bad XPath \"" + printable(expr) + "\": " + q->result().description());
  return impl_->in_read("query", prefix, [&](MDB_txn* t) {
    std::vector<query_match> out;
    impl_->each_readable(t, prefix, who, "query", [&](MDB_txn* tx, document_info d) {
      MDB_val k = val(d.name), v;
      check(mdb_get(tx, impl_->docs, &k, &v), "query", d.name);
      pugi::xml_document doc;
      if (!doc.load_buffer(v.mv_data, v.mv_size, pugi::parse_default, pugi::encoding_utf8)) return;
      query_match m{d.name, d.revision, {}};
      if (q->return_type() == pugi::xpath_type_node_set) {
        for (const pugi::xpath_node& n : q->evaluate_node_set(doc)) {
          if (n.attribute()) {
            m.values.emplace_back(n.attribute().value());
          } else if (n.node().type() == pugi::node_element) {
            std::ostringstream s;
            n.node().print(s, "", pugi::format_raw);
            m.values.push_back(s.str());
          } else {
            m.values.emplace_back(n.node().value());
          }
        }
      } else {
        m.values.push_back(q->evaluate_string(doc));
      }
      if (!m.values.empty()) out.push_back(std::move(m));
    });
    return out;
  });
}

std::vector<document_info> store::apply(const batch& b, const caller& who) {
  for (const batch::op& o : b.ops()) check_name(o.remove ? "batch remove" : "batch write", o.name);
  return impl_->in_write("batch", "", [&](MDB_txn* t) {
    std::vector<document_info> out;
    for (const batch::op& o : b.ops()) {
      if (o.remove) {
        std::optional<document_info> d = impl_->get_meta(t, o.name, "batch remove");
        if (!d) throw store_error(store_errc::not_found, "batch remove", o.name, "no such document");
        if (!allowed(who, d->rights, o.name, right::del))
          throw xgate::access_denied(who.principal(), "delete", o.name);
        impl_->del(t, *d, "batch remove");
      } else {
        out.push_back(impl_->put(t, "batch write", o.name, o.xml, who, o.options));
      }
    }
    return out;
  });
}

namespace {
document_info leased(std::optional<document_info> d, std::string_view operation, std::string_view name,
                     const caller& who) {
  if (!d) throw store_error(store_errc::not_found, operation, name, "no such document");
  if (!d->lease_expires) throw store_error(store_errc::no_lease, operation, name, "the document holds no lease");
  if (who.principal() != d->lease_holder || !who.may(name, right::write)) throw xgate::access_denied(who.principal(), "lease", std::string(name));
  return std::move(*d);
}
}  // namespace

document_info store::renew_lease(std::string_view name, const caller& who, clock::duration ttl) {
  check_name("renew lease", name);
  return impl_->in_write("renew lease", name, [&](MDB_txn* t) {
    document_info d = leased(impl_->get_meta(t, name, "renew lease"), "renew lease", name, who);
    impl_->drop_lease_entry(t, d, "renew lease");
    d.lease_expires = clock::now() + ttl;
    impl_->put_meta(t, d, "renew lease");
    return d;
  });
}

document_info store::cancel_lease(std::string_view name, const caller& who) {
  check_name("cancel lease", name);
  return impl_->in_write("cancel lease", name, [&](MDB_txn* t) {
    document_info d = leased(impl_->get_meta(t, name, "cancel lease"), "cancel lease", name, who);
    impl_->drop_lease_entry(t, d, "cancel lease");
    d.lease_expires.reset();
    d.lease_holder.clear();
    impl_->put_meta(t, d, "cancel lease");
    return d;
  });
}

std::vector<std::string> store::reap(clock::time_point now) {
  std::int64_t now_ns = to_ns(now);
  return impl_->in_write("reap", "", [&](MDB_txn* t) {
    std::vector<std::string> due;  // lease index keys, collected before anything is deleted
    {
      MDB_cursor* c = nullptr;
      check(mdb_cursor_open(t, impl_->leases, &c), "reap", "");
      std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> guard(c, mdb_cursor_close);
      MDB_val k, v;
      int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
      for (; rc == MDB_SUCCESS && lease_key_ns(view(k)) <= now_ns; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        due.emplace_back(view(k));
      if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) check(rc, "reap", "");
    }
    std::vector<std::string> removed;
    for (const std::string& key : due) {
      std::string_view name = std::string_view(key).substr(8);
      std::optional<document_info> d = impl_->get_raw_meta(t, name, "reap");
      if (d && d->lease_expires && to_ns(*d->lease_expires) == lease_key_ns(key)) {
        impl_->del(t, *d, "reap", change_kind::expired);
        removed.emplace_back(name);
      } else {
        MDB_val k = val(key);  // a stale index entry: should not exist, but never remove a live document for it
        check(mdb_del(t, impl_->leases, &k, nullptr), "reap", name);
      }
    }
    return removed;
  });
}

std::vector<change> store::changes(std::string_view prefix, std::uint64_t after, const caller& who) const {
  prefix = check_prefix("watch", prefix);
  return impl_->in_read("watch", prefix, [&](MDB_txn* t) {
    std::vector<change> out;
    MDB_cursor* c = nullptr;
    check(mdb_cursor_open(t, impl_->changes, &c), "watch", prefix);
    std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> guard(c, mdb_cursor_close);
    MDB_val k, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    // The log is contiguous up to the current revision, so a gap before its first entry
    // means changes after `after` were dropped.
    if (rc == MDB_SUCCESS && revision_of_key(view(k)) > after + 1)
      throw store_error(store_errc::history_lost, "watch", prefix,
                        "changes after revision " + std::to_string(after) + " are no longer kept (oldest kept: " +
                            std::to_string(revision_of_key(view(k))) + ")");
    std::string from = revision_key_bytes(after + 1);
    k = val(from);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
      reader r(view(v), "change log");
      auto kind = static_cast<change_kind>(r.get<std::uint8_t>());
      std::string_view name = r.str();
      if (!is_under(name, prefix)) continue;
      xgate::rights readers;
      readers.creator = std::string(r.str());
      readers.read = parse_principals(r.str());
      if (who.may(name, right::read) && readers.allows(who.principal(), right::read)) out.push_back(change{revision_of_key(view(k)), kind, std::string(name)});
    }
    if (rc != MDB_NOTFOUND) check(rc, "watch", prefix);
    return out;
  });
}

std::vector<change> store::watch(std::string_view prefix, std::uint64_t after, const caller& who,
                                 std::chrono::milliseconds timeout, std::stop_token stop) const {
  // Writers in other processes do not signal watch_cv: poll for them at this interval.
  constexpr auto poll = std::chrono::milliseconds(50);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::uint64_t seen;
    {
      std::lock_guard lock(impl_->watch_mutex);
      seen = impl_->generation;
    }
    std::vector<change> out = changes(prefix, after, who);
    if (!out.empty()) return out;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline || stop.stop_requested()) return out;
    std::unique_lock lock(impl_->watch_mutex);
    impl_->watch_cv.wait_until(lock, stop, std::min(deadline, now + poll), [&] { return impl_->generation != seen; });
  }
}

// ---- credentials ---------------------------------------------------------------------------

std::string store::issue_credential(const caller& who, const credential_request& request) {
  constexpr std::string_view op = "issue credential";
  std::string_view scope = check_prefix(op, request.scope);
  if (!is_valid_principal(who.principal())) throw xgate::access_denied(who.principal(), std::string(op), std::string(scope));
  if (request.rights.empty()) throw store_error(store_errc::bad_credential, op, scope, "a credential needs at least one right");
  if (request.ttl && *request.ttl <= clock::duration::zero())
    throw store_error(store_errc::bad_credential, op, scope, "a credential's time to live must be positive");
  credential_record c;
  c.info.issued = clock::now();
  c.info.label = request.label;
  c.info.granted = grant{who.principal(), std::string(scope), request.subtree, request.rights, std::nullopt};
  if (request.ttl) c.info.granted.expires = c.info.issued + *request.ttl;
  if (const grant* parent = who.limits()) {
    if (!request.ttl) c.info.granted.expires = parent->expires;  // a child never outlives its parent
    if (!c.info.granted.within(*parent)) throw xgate::access_denied(who.principal(), std::string(op), std::string(scope));
    c.info.parent = who.credential_id();
  }
  std::string token = new_token();
  c.hash = token_hash(token);
  c.info.id = credential_id(c.hash);
  impl_->in_write(op, scope, [&](MDB_txn* t) {
    if (!c.info.parent.empty() && !impl_->get_credential(t, c.info.parent, op))
      throw store_error(store_errc::bad_credential, op, scope, "the credential it would be issued through was revoked");
    std::string record = encode_credential(c);
    MDB_val k = val(c.info.id), v = val(record);
    // MDB_NOOVERWRITE: two tokens sharing an id prefix (2^-64) must not replace each other.
    int rc = mdb_put(t, impl_->creds, &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) throw store_error(store_errc::bad_credential, op, scope, "credential id collision; issue again");
    check(rc, op, scope);
  });
  return token;
}

caller store::authenticate(std::string_view token) const {
  constexpr std::string_view op = "authenticate";
  // Messages never quote the token: they end up in logs.
  if (!token.starts_with(token_prefix)) throw store_error(store_errc::bad_credential, op, "", "not an xgate token");
  std::string hash = token_hash(token);
  std::string id = credential_id(hash);
  return impl_->in_read(op, "", [&](MDB_txn* t) {
    holding h = impl_->check_holding(t, id, op);
    if (h.record && sodium_memcmp(h.record->hash.data(), hash.data(), token_hash_bytes) != 0) h = {std::nullopt, "unknown or revoked token"};
    if (!h.record) throw store_error(store_errc::bad_credential, op, "", h.refusal);
    return caller(id, std::move(h.record->info.granted));
  });
}

std::optional<credential_key> store::credential_key_of(std::string_view id) const {
  constexpr std::string_view op = "credential key";
  std::string key(id);
  return impl_->in_read(op, "", [&](MDB_txn* t) -> std::optional<credential_key> {
    holding h = impl_->check_holding(t, key, op);
    if (!h.record) return std::nullopt;
    return credential_key{std::move(h.record->hash), caller(key, std::move(h.record->info.granted))};
  });
}

namespace {
// Whether c is id or was issued (directly or not) through id.
bool descends_from(const credential_record& c, std::string_view id, const std::vector<credential_record>& all) {
  std::string_view at = c.info.id;
  for (std::size_t depth = 0; depth <= all.size(); ++depth) {
    if (at == id) return true;
    auto parent = std::find_if(all.begin(), all.end(), [&](const credential_record& r) { return r.info.id == at; });
    if (parent == all.end() || parent->info.parent.empty()) return false;
    at = parent->info.parent;
  }
  return false;
}
}  // namespace

std::vector<credential_info> store::credentials(const caller& who) const {
  return impl_->in_read("list credentials", "", [&](MDB_txn* t) {
    std::vector<credential_record> all = impl_->all_credentials(t, "list credentials");
    std::vector<credential_info> out;
    for (const credential_record& c : all)
      if (c.info.granted.principal == who.principal() && (!who.limits() || descends_from(c, who.credential_id(), all)))
        out.push_back(c.info);
    return out;
  });
}

void store::revoke_credential(std::string_view id, const caller& who) {
  constexpr std::string_view op = "revoke credential";
  impl_->in_write(op, id, [&](MDB_txn* t) {
    std::vector<credential_record> all = impl_->all_credentials(t, op);
    auto target = std::find_if(all.begin(), all.end(), [&](const credential_record& c) { return c.info.id == id; });
    if (target == all.end() || target->info.granted.principal != who.principal() ||
        (who.limits() && !descends_from(*target, who.credential_id(), all)))
      throw store_error(store_errc::not_found, op, id, "no such credential of \"" + printable(who.principal()) + "\"");
    // Children would fail authenticate() anyway; removing them keeps listings honest.
    for (const credential_record& c : all) {
      if (!descends_from(c, id, all)) continue;
      MDB_val k = val(c.info.id);
      check(mdb_del(t, impl_->creds, &k, nullptr), op, c.info.id);
    }
  });
}

std::uint64_t store::revision() const {
  return impl_->in_read("revision", "", [&](MDB_txn* t) { return impl_->current_revision(t); });
}

int store::stale_readers_cleared_at_open() const noexcept { return impl_->stale_readers; }

int store::clear_stale_readers() {
  int dead = 0;
  check(mdb_reader_check(impl_->env, &dead), "clear stale readers", impl_->path.string());
  return dead;
}

std::size_t store::map_size() const { return impl_->current_map_size(); }

struct watcher::state {
  mutable std::mutex mutex;
  std::exception_ptr error;
  bool stopped = false;
};

watcher::watcher(const store& s, std::string prefix, std::uint64_t after, caller who, callback on_change)
    : state_(std::make_shared<state>()) {
  check_prefix("watch", prefix);  // refuse a bad prefix here, not in the thread
  thread_ = std::jthread([&s, st = state_, prefix = std::move(prefix), after, who = std::move(who),
                          on_change = std::move(on_change)](std::stop_token stop) mutable {
    try {
      while (!stop.stop_requested()) {
        std::vector<change> c = s.watch(prefix, after, who, std::chrono::hours(1), stop);
        if (c.empty()) continue;
        after = c.back().revision;
        on_change(c);
      }
    } catch (...) {
      std::lock_guard lock(st->mutex);
      st->error = std::current_exception();
    }
    std::lock_guard lock(st->mutex);
    st->stopped = true;
  });
}

watcher::~watcher() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

bool watcher::stopped() const noexcept {
  std::lock_guard lock(state_->mutex);
  return state_->stopped;
}

std::exception_ptr watcher::error() const {
  std::lock_guard lock(state_->mutex);
  return state_->error;
}

struct reaper::state {
  mutable std::mutex mutex;
  std::condition_variable_any wake;  // only woken by stop requests
  std::exception_ptr error;
  std::uint64_t removed = 0;
};

reaper::reaper(store& s, clock::duration interval) : state_(std::make_shared<state>()) {
  thread_ = std::jthread([&s, st = state_, interval](std::stop_token stop) {
    std::unique_lock lock(st->mutex);
    while (!stop.stop_requested()) {
      lock.unlock();
      try {
        std::size_t n = s.reap().size();
        lock.lock();
        st->removed += n;
      } catch (...) {
        lock.lock();
        st->error = std::current_exception();
        return;
      }
      st->wake.wait_for(lock, stop, interval, [] { return false; });
    }
  });
}

reaper::~reaper() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t reaper::removed() const noexcept {
  std::lock_guard lock(state_->mutex);
  return state_->removed;
}

std::exception_ptr reaper::error() const {
  std::lock_guard lock(state_->mutex);
  return state_->error;
}

}  // namespace xgate::store
