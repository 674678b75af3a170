#include <xgate/store/postgresql_engine.hpp>

#include <libpq-fe.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <array>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include <xgate/base/text.hpp>

#include "postgresql_connection.hpp"
#include "record_times.hpp"
#include "write_queue.hpp"

namespace xgate::store {

namespace {

// Every statement the engine runs, prepared once per connection. Names, principals and
// XML are bytea: bytewise order and no encoding the database could refuse. Times are
// nanoseconds since 1970 (what the store compares), leases NULL when there is none.
enum class stmt : std::size_t {
  info, bytes, scan_from, scan_after, revision, set_revision, oldest_change, changes_after,
  append_change, drop_changes, credential, credentials, insert_credential, erase_credential, put, put_info, erase,
  expired, indexes, index_lookup, insert_index, erase_index, erase_index_entries, erase_entries_of, insert_entry,
  count_index_change, count
};

#define XGATE_DOC_COLUMNS \
  "name, revision, created, modified, size, embedded_rights, creator, readers, writers, deleters, copiers, " \
  "lease_expires, lease_holder"
#define XGATE_CRED_COLUMNS "id, hash, issued, principal, scope, subtree, rights, expires, parent, label, methods"

constexpr std::array<const char*, static_cast<std::size_t>(stmt::count)> statements{
    "SELECT " XGATE_DOC_COLUMNS " FROM xgate_documents WHERE name = $1",
    "SELECT xml FROM xgate_documents WHERE name = $1",
    // A prefix scan in pages: from the prefix (or after the last name seen), below its end.
    "SELECT " XGATE_DOC_COLUMNS " FROM xgate_documents WHERE name >= $1 AND ($2::bytea IS NULL OR name < $2) "
    "ORDER BY name LIMIT 512",
    "SELECT " XGATE_DOC_COLUMNS " FROM xgate_documents WHERE name > $1 AND ($2::bytea IS NULL OR name < $2) "
    "ORDER BY name LIMIT 512",
    "SELECT revision FROM xgate_revision",
    "UPDATE xgate_revision SET revision = $1",
    "SELECT min(revision) FROM xgate_changes",
    "SELECT revision, kind, name, creator, readers, at FROM xgate_changes WHERE revision > $1 ORDER BY revision LIMIT 1024",
    "INSERT INTO xgate_changes (revision, kind, name, creator, readers, at) VALUES ($1, $2, $3, $4, $5, $6)",
    "DELETE FROM xgate_changes WHERE revision <= $1",
    "SELECT " XGATE_CRED_COLUMNS " FROM xgate_credentials WHERE id = $1",
    "SELECT " XGATE_CRED_COLUMNS " FROM xgate_credentials ORDER BY id",
    "INSERT INTO xgate_credentials (" XGATE_CRED_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
    "ON CONFLICT (id) DO NOTHING",
    "DELETE FROM xgate_credentials WHERE id = $1",
    "INSERT INTO xgate_documents (" XGATE_DOC_COLUMNS ", xml) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
    "$12, $13, $14) ON CONFLICT (name) DO UPDATE SET revision = $2, created = $3, modified = $4, size = $5, "
    "embedded_rights = $6, creator = $7, readers = $8, writers = $9, deleters = $10, copiers = $11, "
    "lease_expires = $12, lease_holder = $13, xml = $14",
    "UPDATE xgate_documents SET revision = $2, created = $3, modified = $4, size = $5, embedded_rights = $6, "
    "creator = $7, readers = $8, writers = $9, deleters = $10, copiers = $11, lease_expires = $12, "
    "lease_holder = $13 WHERE name = $1",
    "DELETE FROM xgate_documents WHERE name = $1",
    "SELECT " XGATE_DOC_COLUMNS " FROM xgate_documents WHERE lease_expires <= $1 ORDER BY lease_expires, name",
    "SELECT id, prefix, expression, creator FROM xgate_indexes ORDER BY id",
    "SELECT name FROM xgate_index_entries WHERE id = $1 AND value = $2 AND name > $3 ORDER BY name LIMIT 512",
    "INSERT INTO xgate_indexes (id, prefix, expression, creator) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
    "DELETE FROM xgate_indexes WHERE id = $1",
    "DELETE FROM xgate_index_entries WHERE id = $1",
    "DELETE FROM xgate_index_entries WHERE id = $1 AND name = $2",
    "INSERT INTO xgate_index_entries (id, value, name) VALUES ($1, $2, $3)",
    "UPDATE xgate_revision SET indexes = indexes + 1",
};

static_assert(static_cast<std::size_t>(stmt::count) <= pg::max_statements, "a connection prepares them all");

// Version 1 of the schema. A later version adds its steps after these and bumps
// postgresql_engine::schema_version.
constexpr const char* schema_v1 = R"sql(
CREATE TABLE xgate_revision (one boolean PRIMARY KEY DEFAULT true CHECK (one), revision bigint NOT NULL);
INSERT INTO xgate_revision (revision) VALUES (0);
CREATE TABLE xgate_documents (
  name bytea PRIMARY KEY, revision bigint NOT NULL, created bigint NOT NULL, modified bigint NOT NULL,
  size bigint NOT NULL, embedded_rights boolean NOT NULL, creator bytea NOT NULL, readers bytea NOT NULL,
  writers bytea NOT NULL, deleters bytea NOT NULL, copiers bytea NOT NULL, lease_expires bigint,
  lease_holder bytea NOT NULL, xml bytea NOT NULL);
CREATE INDEX xgate_documents_leases ON xgate_documents (lease_expires, name) WHERE lease_expires IS NOT NULL;
CREATE TABLE xgate_changes (revision bigint PRIMARY KEY, kind smallint NOT NULL, name bytea NOT NULL,
  creator bytea NOT NULL, readers bytea NOT NULL);
CREATE TABLE xgate_credentials (
  id bytea PRIMARY KEY, hash bytea NOT NULL, issued bigint NOT NULL, principal bytea NOT NULL, scope bytea NOT NULL,
  subtree boolean NOT NULL, rights smallint NOT NULL, expires bigint, parent bytea NOT NULL, label bytea NOT NULL,
  methods bytea NOT NULL);
)sql";

// Version 2: declared indexes and their entries. xgate_revision.indexes counts the changes to
// the declarations, so that a writer (which reads it with the revision lock) knows whether the
// declarations it holds are current. xgate_changes.at: when each change was made (0 in
// entries of version 1), for store_options::kept_age.
constexpr const char* schema_v2 = R"sql(
ALTER TABLE xgate_revision ADD COLUMN indexes bigint NOT NULL DEFAULT 0;
ALTER TABLE xgate_changes ADD COLUMN at bigint NOT NULL DEFAULT 0;
CREATE TABLE xgate_indexes (id bytea PRIMARY KEY, prefix bytea NOT NULL, expression bytea NOT NULL, creator bytea NOT NULL);
CREATE TABLE xgate_index_entries (id bytea NOT NULL, value bytea NOT NULL, name bytea NOT NULL, PRIMARY KEY (id, value, name));
CREATE INDEX xgate_index_entries_names ON xgate_index_entries (id, name);
)sql";

// What wakes watches (LISTEN/NOTIFY on one channel); the advisory lock key that serializes
// schema set-up.
constexpr const char* listen_changes = "LISTEN xgate_changes";
// A write transaction opens by locking the revision row, which orders every write after the
// ones before it, and ends with NOTIFY when it changed anything: each pair is one round trip
// (a simple query of two statements; its result is the last one's, in text).
constexpr const char* begin_write = "BEGIN; SELECT revision, indexes FROM xgate_revision FOR UPDATE";
constexpr const char* notify_and_commit = "NOTIFY xgate_changes; COMMIT";
constexpr const char* schema_lock = "SELECT pg_advisory_xact_lock(7831504245374306)";


using pg::connection;
using pg::field;
using pg::field_bool;
using pg::field_i64;
using pg::is_null;
using pg::params;
using pg::result_ptr;
using pg::fail;

// The document columns (XGATE_DOC_COLUMNS) of one row.
document_info info_of(const PGresult* r, int row) {
  document_info d;
  d.name = std::string(field(r, row, 0));
  d.revision = static_cast<std::uint64_t>(field_i64(r, row, 1));
  d.created = from_ns(field_i64(r, row, 2));
  d.modified = from_ns(field_i64(r, row, 3));
  d.size = static_cast<std::size_t>(field_i64(r, row, 4));
  d.embedded_rights = field_bool(r, row, 5);
  d.rights.creator = std::string(field(r, row, 6));
  int col = 7;
  for (right k : {right::read, right::write, right::del, right::copy}) d.rights.list(k) = parse_principals(field(r, row, col++));
  if (!is_null(r, row, 11)) d.lease_expires = from_ns(field_i64(r, row, 11));
  d.lease_holder = std::string(field(r, row, 12));
  return d;
}

// The document columns of d as parameters $1…$13, in XGATE_DOC_COLUMNS order; the joined
// principal lists are kept in lists, which must outlive p.
void info_params(params& p, const document_info& d, std::array<std::string, 4>& lists) {
  int i = 0;
  for (right k : {right::read, right::write, right::del, right::copy}) lists[static_cast<std::size_t>(i++)] = join_principals(d.rights.list(k));
  p.bytes(d.name)
      .i64(static_cast<std::int64_t>(d.revision))
      .i64(to_ns(d.created))
      .i64(to_ns(d.modified))
      .i64(static_cast<std::int64_t>(d.size))
      .boolean(d.embedded_rights)
      .bytes(d.rights.creator);
  for (const auto& l : lists) p.bytes(l);
  p.optional_i64(d.lease_expires ? std::optional<std::int64_t>(to_ns(*d.lease_expires)) : std::nullopt)
      .bytes(d.lease_holder);
}

credential_record credential_of(const PGresult* r, int row) {
  credential_record c;
  c.info.id = std::string(field(r, row, 0));
  c.hash = std::string(field(r, row, 1));
  c.info.issued = from_ns(field_i64(r, row, 2));
  c.info.granted.principal = std::string(field(r, row, 3));
  c.info.granted.scope = std::string(field(r, row, 4));
  c.info.granted.subtree = field_bool(r, row, 5);
  c.info.granted.rights = right_set::from_bits(static_cast<std::uint8_t>(field_i64(r, row, 6)));
  if (!is_null(r, row, 7)) c.info.granted.expires = from_ns(field_i64(r, row, 7));
  c.info.parent = std::string(field(r, row, 8));
  c.info.label = std::string(field(r, row, 9));
  auto methods = parse_methods(field(r, row, 10));
  if (!methods) throw store_error(store_errc::postgresql, "read credential", c.info.id, "bad methods in credential record");
  c.info.granted.methods = std::move(*methods);
  return c;
}

// The first name after every name starting with prefix; nullopt when there is none
// (a prefix of 0xff bytes only, or "").
std::optional<std::string> prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (end.empty()) return std::nullopt;
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

// The index declarations as of a count of their changes (xgate_revision.indexes): a writer
// that read the same count with its revision lock uses them without asking again.
struct index_cache {
  std::mutex mutex;
  std::uint64_t changes = UINT64_MAX;  // none cached yet
  std::vector<index_record> records;
};

class transaction final : public write_transaction {
 public:
  // revision: in a write transaction, the revision its lock read (and set_revision keeps it
  // current), which saves a round trip per write.
  // indexes: the engine's cache of the index declarations, with the count of their changes
  // that the revision lock read (write transactions only).
  transaction(connection& c, std::string_view operation, std::optional<std::uint64_t>* revision = nullptr,
              index_cache* indexes = nullptr, std::uint64_t index_changes = 0)
      : c_(c), operation_(operation), revision_(revision), cache_(indexes), index_changes_(index_changes) {}

  bool changed() const noexcept { return changed_; }

  std::optional<document_info> info(std::string_view name) const override {
    result_ptr r = c_.run(stmt::info, params().bytes(name), operation_, name);
    if (PQntuples(r.get()) == 0) return std::nullopt;
    return info_of(r.get(), 0);
  }
  std::string bytes(std::string_view name) const override {
    result_ptr r = c_.run(stmt::bytes, params().bytes(name), operation_, name);
    if (PQntuples(r.get()) == 0) throw store_error(store_errc::postgresql, operation_, name, "no document bytes");
    return std::string(field(r.get(), 0, 0));
  }
  void scan(std::string_view prefix, std::string_view after,
            const std::function<bool(document_info&&)>& each) const override {
    std::optional<std::string> end = prefix_end(prefix);
    // Every name under the prefix sorts at or after it: an `after` before it changes nothing.
    bool resume = !after.empty() && after >= prefix;
    std::string from(resume ? after : prefix);
    for (stmt s = resume ? stmt::scan_after : stmt::scan_from;; s = stmt::scan_after) {
      params p;
      p.bytes(from);
      if (end) p.bytes(*end); else p.null();
      result_ptr r = c_.run(s, p, operation_, prefix);
      int n = PQntuples(r.get());
      for (int row = 0; row < n; ++row) {
        document_info d = info_of(r.get(), row);
        if (row == n - 1) from = d.name;
        if (!each(std::move(d))) return;
      }
      if (n < 512) return;
    }
  }
  std::uint64_t revision() const override {
    if (revision_ && *revision_) return **revision_;
    result_ptr r = c_.run(stmt::revision, params(), operation_, "");
    return static_cast<std::uint64_t>(field_i64(r.get(), 0, 0));
  }
  std::optional<std::uint64_t> oldest_change() const override {
    result_ptr r = c_.run(stmt::oldest_change, params(), operation_, "");
    if (is_null(r.get(), 0, 0)) return std::nullopt;
    return static_cast<std::uint64_t>(field_i64(r.get(), 0, 0));
  }
  void changes_after(std::uint64_t after, const std::function<bool(change_record&&)>& each) const override {
    for (;;) {
      result_ptr r = c_.run(stmt::changes_after, params().i64(static_cast<std::int64_t>(after)), operation_, "change log");
      int n = PQntuples(r.get());
      for (int row = 0; row < n; ++row) {
        change_record c;
        c.revision = static_cast<std::uint64_t>(field_i64(r.get(), row, 0));
        c.kind = static_cast<change_kind>(field_i64(r.get(), row, 1));
        c.name = std::string(field(r.get(), row, 2));
        c.readers.creator = std::string(field(r.get(), row, 3));
        c.readers.read = parse_principals(field(r.get(), row, 4));
        c.at = from_ns(field_i64(r.get(), row, 5));
        after = c.revision;
        if (!each(std::move(c))) return;
      }
      if (n < 1024) return;
    }
  }
  std::optional<credential_record> credential(std::string_view id) const override {
    result_ptr r = c_.run(stmt::credential, params().bytes(id), operation_, id);
    if (PQntuples(r.get()) == 0) return std::nullopt;
    return credential_of(r.get(), 0);
  }
  std::vector<credential_record> credentials() const override {
    result_ptr r = c_.run(stmt::credentials, params(), operation_, "");
    std::vector<credential_record> all;
    for (int row = 0, n = PQntuples(r.get()); row < n; ++row) all.push_back(credential_of(r.get(), row));
    return all;
  }

  void put(const document_info& info, std::string_view xml, const std::optional<document_info>&) override {
    params p;
    std::array<std::string, 4> lists;
    info_params(p, info, lists);
    p.bytes(xml);
    c_.defer(stmt::put, p, operation_, info.name);
    changed_ = true;
  }
  void put_info(const document_info& info, const document_info&) override {
    params p;
    std::array<std::string, 4> lists;
    info_params(p, info, lists);
    c_.defer(stmt::put_info, p, operation_, info.name);
    changed_ = true;
  }
  void erase(const document_info& stored) override {
    c_.defer(stmt::erase, params().bytes(stored.name), operation_, stored.name);
    changed_ = true;
  }
  std::vector<document_info> expired(clock::time_point up_to) override {
    result_ptr r = c_.run(stmt::expired, params().i64(to_ns(up_to)), operation_, "");
    std::vector<document_info> due;
    for (int row = 0, n = PQntuples(r.get()); row < n; ++row) due.push_back(info_of(r.get(), row));
    return due;
  }
  void set_revision(std::uint64_t revision) override {
    c_.defer(stmt::set_revision, params().i64(static_cast<std::int64_t>(revision)), operation_, "");
    if (revision_) *revision_ = revision;
    changed_ = true;
  }
  void append_change(const change_record& c) override {
    std::string readers = join_principals(c.readers.read);
    c_.defer(stmt::append_change,
           params()
               .i64(static_cast<std::int64_t>(c.revision))
               .i16(static_cast<std::int16_t>(c.kind))
               .bytes(c.name)
               .bytes(c.readers.creator)
               .bytes(readers)
               .i64(to_ns(c.at)),
           operation_, c.name);
    changed_ = true;
  }
  void drop_changes_through(std::uint64_t revision) override {
    c_.defer(stmt::drop_changes, params().i64(static_cast<std::int64_t>(revision)), operation_, "change log");
  }
  bool insert_credential(const credential_record& c) override {
    const grant& g = c.info.granted;
    std::string methods = join_methods(g.methods);
    params p;
    p.bytes(c.info.id)
        .bytes(c.hash)
        .i64(to_ns(c.info.issued))
        .bytes(g.principal)
        .bytes(g.scope)
        .boolean(g.subtree)
        .i16(static_cast<std::int16_t>(g.rights.bits()))
        .optional_i64(g.expires ? std::optional<std::int64_t>(to_ns(*g.expires)) : std::nullopt)
        .bytes(c.info.parent)
        .bytes(c.info.label)
        .bytes(methods);
    result_ptr r = c_.run(stmt::insert_credential, p, operation_, c.info.id);
    return std::string_view(PQcmdTuples(r.get())) == "1";
  }
  void erase_credential(std::string_view id) override { c_.run(stmt::erase_credential, params().bytes(id), operation_, id); }

  std::vector<index_record> indexes() const override {
    bool cacheable = cache_ && !indexes_changed_;
    if (cacheable) {
      std::lock_guard lock(cache_->mutex);
      if (cache_->changes == index_changes_) return cache_->records;
    }
    result_ptr r = c_.run(stmt::indexes, params(), operation_, "indexes");
    std::vector<index_record> out;
    for (int row = 0, n = PQntuples(r.get()); row < n; ++row)
      out.push_back(index_record{std::string(field(r.get(), row, 0)), std::string(field(r.get(), row, 1)),
                                 std::string(field(r.get(), row, 2)), std::string(field(r.get(), row, 3))});
    if (cacheable) {
      std::lock_guard lock(cache_->mutex);
      cache_->changes = index_changes_;
      cache_->records = out;
    }
    return out;
  }
  void index_lookup(std::string_view id, std::string_view value, std::string_view after,
                    const std::function<bool(std::string&&)>& each) const override {
    std::string from(after);
    for (;;) {
      result_ptr r = c_.run(stmt::index_lookup, params().bytes(id).bytes(value).bytes(from), operation_, id);
      int n = PQntuples(r.get());
      for (int row = 0; row < n; ++row) {
        std::string name(field(r.get(), row, 0));
        if (row == n - 1) from = name;
        if (!each(std::move(name))) return;
      }
      if (n < 512) return;
    }
  }
  bool insert_index(const index_record& x) override {
    result_ptr r = c_.run(stmt::insert_index, params().bytes(x.id).bytes(x.prefix).bytes(x.expression).bytes(x.creator),
                          operation_, x.id);
    if (std::string_view(PQcmdTuples(r.get())) != "1") return false;
    count_index_change();
    return true;
  }
  void erase_index(std::string_view id) override {
    c_.defer(stmt::erase_index, params().bytes(id), operation_, id);
    c_.defer(stmt::erase_index_entries, params().bytes(id), operation_, id);
    count_index_change();
  }
  void set_index_entries(std::string_view id, std::string_view name, const std::vector<std::string>& values) override {
    c_.defer(stmt::erase_entries_of, params().bytes(id).bytes(name), operation_, name);
    for (const std::string& v : values) c_.defer(stmt::insert_entry, params().bytes(id).bytes(v).bytes(name), operation_, name);
    changed_ = true;
  }

 private:
  void count_index_change() {
    c_.defer(stmt::count_index_change, params(), operation_, "indexes");
    indexes_changed_ = true;  // what this transaction reads of them is not to be cached
    changed_ = true;
  }

  connection& c_;
  std::string_view operation_;
  std::optional<std::uint64_t>* revision_;
  index_cache* cache_;
  std::uint64_t index_changes_;
  bool indexes_changed_ = false;
  bool changed_ = false;
};

}  // namespace

struct postgresql_engine::impl {
  std::string address;  // as given: may hold a password, never shown
  std::string shown;    // address() without password or options
  postgresql_options options;

  std::mutex mutex;
  std::condition_variable returned;
  std::vector<std::unique_ptr<connection>> idle;
  std::size_t open = 0;

  std::jthread listener;

  // A pooled connection, handed back on destruction unless it broke.
  class lease {
   public:
    lease(impl& pool, std::unique_ptr<connection> c) : pool_(pool), c_(std::move(c)) {}
    ~lease() { pool_.give_back(std::move(c_)); }
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    connection& operator*() const noexcept { return *c_; }
    connection* operator->() const noexcept { return c_.get(); }

   private:
    impl& pool_;
    std::unique_ptr<connection> c_;
  };

  lease take(std::string_view operation, std::string_view document) {
    std::unique_lock lock(mutex);
    returned.wait(lock, [&] { return !idle.empty() || open < options.max_connections; });
    if (!idle.empty()) {
      auto c = std::move(idle.back());
      idle.pop_back();
      return lease(*this, std::move(c));
    }
    ++open;
    lock.unlock();
    try {
      return lease(*this, std::make_unique<connection>(address, operation, document, statements));
    } catch (...) {
      give_back(nullptr);
      throw;
    }
  }

  void give_back(std::unique_ptr<connection> c) {
    std::lock_guard lock(mutex);
    if (c && c->ok() && PQtransactionStatus(c->get()) == PQTRANS_IDLE) {
      idle.push_back(std::move(c));
    } else {
      --open;  // a broken connection (or none) frees its place
    }
    returned.notify_one();
  }

  index_cache indexes;

  // Group commit: writers that arrive while a commit is under way share the next one (one
  // transaction, one WAL flush), as with LMDB. Measured with bench/store (BM_StoreWrite,
  // BM_ServerPut): see bench/README.md.
  write_queue writers{256};

  // Until COMMIT is sent nothing has happened, so a broken connection is replaced and the
  // group run again (the engine contract allows it); a commit cut off has an unknown
  // outcome. In a group of several, each writer runs inside a savepoint, so that one that
  // fails is undone alone.
  void commit_group(const std::vector<write_request*>& group) {
    const write_request& first = *group.front();
    for (int attempt = 0;; ++attempt) {
      auto c = take(first.operation, first.document);
      std::size_t committing = 0;
      bool changed = false;
      try {
        result_ptr locked = c->command(begin_write, first.operation, first.document);
        std::optional<std::uint64_t> revision = std::strtoull(PQgetvalue(locked.get(), 0, 0), nullptr, 10);
        std::uint64_t index_changes = std::strtoull(PQgetvalue(locked.get(), 0, 1), nullptr, 10);
        for (write_request* r : group) {
          r->error = nullptr;
          const std::optional<std::uint64_t> before = revision;  // a writer undone takes its revisions back
          transaction t(*c, r->operation, &revision, &indexes, index_changes);
          if (group.size() > 1) c->command("SAVEPOINT writer", r->operation, r->document);
          try {
            (*r->run)(t);
            c->flush();  // its deferred statements: their failure is this writer's
          } catch (const store_error& e) {
            if (e.reason() == store_errc::engine_unavailable) throw;
            r->error = std::current_exception();
          } catch (...) {
            r->error = std::current_exception();
          }
          if (r->error) c->settle();
          if (group.size() > 1) c->command(r->error ? "ROLLBACK TO SAVEPOINT writer" : "RELEASE SAVEPOINT writer", r->operation, r->document);
          if (r->error) {
            revision = before;
            continue;
          }
          changed = changed || t.changed();
          ++committing;
        }
        if (committing == 0) {
          c->command("ROLLBACK", first.operation, first.document);
          return;
        }
      } catch (const store_error& e) {
        c->roll_back();
        if (e.reason() != store_errc::engine_unavailable || attempt >= 2) throw;
        continue;
      }
      std::optional<std::string> failed;
      try {
        result_ptr r = c->command(changed ? notify_and_commit : "COMMIT", first.operation, first.document);
        // COMMIT of a transaction in which a statement failed answers ROLLBACK.
        if (std::string_view(PQcmdStatus(r.get())) != "COMMIT") failed = "PostgreSQL rolled the transaction back";
      } catch (const store_error& e) {
        if (e.reason() != store_errc::engine_unavailable) throw;
        for (write_request* r : group)
          if (!r->error)
            r->error = std::make_exception_ptr(store_error(
                store_errc::engine_unavailable, r->operation, r->document,
                "the connection to PostgreSQL broke while committing: the write may or may not have happened "
                "(retry it with compare-and-set)"));
        return;
      }
      if (failed)
        for (write_request* r : group)
          if (!r->error) r->error = std::make_exception_ptr(store_error(store_errc::postgresql, r->operation, r->document, *failed));
      return;
    }
  }

  // Creates the tables of a new database, under an advisory lock so that processes
  // opening it together create them once.
  void set_up_schema() {
    connection c(address, "open", shown, statements);
    c.command("BEGIN", "open", shown);
    c.command(schema_lock, "open", shown);
    c.command("CREATE TABLE IF NOT EXISTS xgate_schema (version integer NOT NULL)", "open", shown);
    result_ptr r = c.command("SELECT version FROM xgate_schema", "open", shown);
    if (PQntuples(r.get()) == 0) {
      c.command(schema_v1, "open", shown);
      c.command(schema_v2, "open", shown);
      c.command(("INSERT INTO xgate_schema (version) VALUES (" + std::to_string(schema_version) + ")").c_str(), "open", shown);
    } else {
      int version = std::atoi(PQgetvalue(r.get(), 0, 0));
      if (version > schema_version)
        throw store_error(store_errc::postgresql, "open", shown,
                          "the database holds xgate schema version " + std::to_string(version) +
                              ", newer than this xgate knows (" + std::to_string(schema_version) +
                              "): use a newer xgate");
      if (version < 2) {  // upgraded in place, in this transaction
        c.command(schema_v2, "open", shown);
        c.command("UPDATE xgate_schema SET version = 2", "open", shown);
      }
    }
    c.command("COMMIT", "open", shown);
  }

  // Waits for NOTIFY on its own connection and wakes the store's watches; reconnects
  // (and wakes them, since a change may have passed unnoticed) when the connection breaks.
  void listen(std::stop_token stop, const std::function<void()>& wake) {
    while (!stop.stop_requested()) {
      std::unique_ptr<connection> c;
      try {
        c = std::make_unique<connection>(address, "listen", shown, statements);
        c->command(listen_changes, "listen", shown);
      } catch (const store_error&) {
        for (int i = 0; i < 10 && !stop.stop_requested(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      wake();
      while (!stop.stop_requested()) {
        pollfd p{PQsocket(c->get()), POLLIN, 0};
        int n = ::poll(&p, 1, 100);
        if (n < 0 && errno != EINTR) break;
        if (n <= 0) continue;
        if (!PQconsumeInput(c->get())) break;
        bool any = false;
        while (PGnotify* note = PQnotifies(c->get())) {
          PQfreemem(note);
          any = true;
        }
        if (any) wake();
      }
    }
  }
};

namespace {

}  // namespace

std::string postgresql_engine::public_address(std::string_view given) {
  std::string address(given);
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(address.c_str(), &error);
  if (!options) {
    std::string message = error ? one_line(error) : "out of memory";
    PQfreemem(error);
    throw store_error(store_errc::postgresql, "open", "", "bad PostgreSQL address: " + message);
  }
  std::string user, host, port, db;
  for (PQconninfoOption* o = options; o->keyword; ++o) {
    if (!o->val) continue;
    std::string_view k(o->keyword);
    if (k == "user") user = o->val;
    else if (k == "host") host = o->val;
    else if (k == "port") port = o->val;
    else if (k == "dbname") db = o->val;
  }
  PQconninfoFree(options);
  std::vector<std::string> hosts, ports;
  auto split = [](const std::string& s, std::vector<std::string>& out) {
    std::size_t start = 0;
    for (std::size_t comma; (comma = s.find(',', start)) != std::string::npos; start = comma + 1) out.push_back(s.substr(start, comma - start));
    out.push_back(s.substr(start));
  };
  split(host, hosts);
  split(port, ports);
  std::string shown = "postgresql://";
  if (!user.empty()) shown += user + "@";
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    if (i) shown += ",";
    shown += hosts[i];
    const std::string& p = ports.size() == 1 ? ports[0] : i < ports.size() ? ports[i] : std::string();
    if (!p.empty()) shown += ":" + p;
  }
  if (!db.empty()) shown += "/" + db;
  return shown;
}

postgresql_engine::postgresql_engine(std::string address, postgresql_options options) : impl_(std::make_unique<impl>()) {
  impl_->shown = public_address(address);
  impl_->address = std::move(address);
  impl_->options = options;
  if (impl_->options.max_connections < 1) impl_->options.max_connections = 1;
  impl_->set_up_schema();
}

postgresql_engine::~postgresql_engine() {
  if (impl_->listener.joinable()) {
    impl_->listener.request_stop();
    impl_->listener.join();
  }
}

bool postgresql_engine::is_address(std::string_view address) noexcept {
  return address.starts_with("postgresql://") || address.starts_with("postgres://");
}

void postgresql_engine::read(std::string_view operation, std::string_view document,
                             const std::function<void(const read_transaction&)>& fn) const {
  // A pooled connection may have died while idle (the server restarted): BEGIN finds out,
  // and a fresh connection is tried once before fn has run at all.
  for (int attempt = 0;; ++attempt) {
    auto c = impl_->take(operation, document);
    try {
      c->command("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", operation, document);
    } catch (const store_error& e) {
      if (e.reason() == store_errc::engine_unavailable && attempt == 0) continue;
      throw;
    }
    transaction t(*c, operation);
    c->rolled_back_unless_done([&] { fn(t); });
    c->command("COMMIT", operation, document);
    return;
  }
}

void postgresql_engine::write(std::string_view operation, std::string_view document,
                              const std::function<void(write_transaction&)>& fn) {
  write_request r;
  r.run = &fn;
  r.operation = operation;
  r.document = document;
  impl_->writers.submit(r, [this](const std::vector<write_request*>& group) { impl_->commit_group(group); });
  if (r.error) std::rethrow_exception(r.error);
}

std::optional<std::chrono::milliseconds> postgresql_engine::detect_foreign_changes(std::function<void()> wake) {
  impl_->listener = std::jthread([i = impl_.get(), wake = std::move(wake)](std::stop_token stop) { i->listen(stop, wake); });
  return std::nullopt;
}

std::string postgresql_engine::address() const { return impl_->shown; }

}  // namespace xgate::store
