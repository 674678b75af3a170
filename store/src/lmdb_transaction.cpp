#include "lmdb_transaction.hpp"

#include <memory>

#include "lmdb_records.hpp"
#include "record_times.hpp"

namespace xgate::store::lmdb {

void check(int rc, std::string_view operation, std::string_view record) {
  if (rc == MDB_SUCCESS) return;
  if (rc == MDB_MAP_FULL) throw map_full{};
  throw store_error(store_errc::lmdb, operation, record, mdb_strerror(rc), rc);
}

namespace {

using cursor_ptr = std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)>;

cursor_ptr open_cursor(MDB_txn* txn, MDB_dbi dbi, std::string_view operation, std::string_view record) {
  MDB_cursor* c = nullptr;
  check(mdb_cursor_open(txn, dbi, &c), operation, record);
  return cursor_ptr(c, mdb_cursor_close);
}

}  // namespace

std::optional<document_info> transaction::info(std::string_view name) const {
  MDB_val k = val(name), v;
  int rc = mdb_get(txn_, dbs_.meta, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  check(rc, operation_, name);
  return decode_info(name, view(v));
}

std::string transaction::bytes(std::string_view name) const {
  MDB_val k = val(name), v;
  check(mdb_get(txn_, dbs_.docs, &k, &v), operation_, name);
  return std::string(view(v));
}

void transaction::scan(std::string_view prefix, std::string_view after,
                       const std::function<bool(document_info&&)>& each) const {
  cursor_ptr c = open_cursor(txn_, dbs_.meta, operation_, prefix);
  std::string_view from = after > prefix ? after : prefix;
  MDB_val k = val(from), v;
  int rc = mdb_cursor_get(c.get(), &k, &v, from.empty() ? MDB_FIRST : MDB_SET_RANGE);
  for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    std::string_view name = view(k);
    if (!after.empty() && name <= after) continue;
    if (!name.starts_with(prefix)) return;
    if (!each(decode_info(name, view(v)))) return;
  }
  if (rc != MDB_NOTFOUND) check(rc, operation_, prefix);
}

std::uint64_t transaction::revision() const {
  MDB_val k = val(revision_key), v;
  int rc = mdb_get(txn_, dbs_.sys, &k, &v);
  if (rc == MDB_NOTFOUND) return 0;
  check(rc, "read revision", "");
  return decode_revision(view(v));
}

std::optional<std::uint64_t> transaction::oldest_change() const {
  cursor_ptr c = open_cursor(txn_, dbs_.changes, operation_, "change log");
  MDB_val k, v;
  int rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  check(rc, operation_, "change log");
  return change_key_revision(view(k));
}

void transaction::changes_after(std::uint64_t after, const std::function<bool(change_record&&)>& each) const {
  cursor_ptr c = open_cursor(txn_, dbs_.changes, operation_, "change log");
  std::string from = change_key(after + 1);
  MDB_val k = val(from), v;
  int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
  for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT))
    if (!each(decode_change(view(k), view(v)))) return;
  if (rc != MDB_NOTFOUND) check(rc, operation_, "change log");
}

std::optional<credential_record> transaction::credential(std::string_view id) const {
  MDB_val k = val(id), v;
  int rc = mdb_get(txn_, dbs_.creds, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  check(rc, operation_, id);
  return decode_credential(id, view(v));
}

std::vector<credential_record> transaction::credentials() const {
  std::vector<credential_record> out;
  cursor_ptr c = open_cursor(txn_, dbs_.creds, operation_, "");
  MDB_val k, v;
  int rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST);
  for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) out.push_back(decode_credential(view(k), view(v)));
  if (rc != MDB_NOTFOUND) check(rc, operation_, "");
  return out;
}

void transaction::put_meta(const document_info& info) {
  std::string m = encode_info(info);
  MDB_val k = val(info.name), v = val(m);
  check(mdb_put(txn_, dbs_.meta, &k, &v, 0), operation_, info.name);
  if (info.lease_expires) {
    std::string lk = lease_key(info);
    MDB_val lkv = val(lk), empty{0, nullptr};
    check(mdb_put(txn_, dbs_.leases, &lkv, &empty, 0), operation_, info.name);
  }
}

void transaction::drop_lease_entry(const document_info& stored) {
  if (!stored.lease_expires) return;
  std::string lk = lease_key(stored);
  MDB_val k = val(lk);
  int rc = mdb_del(txn_, dbs_.leases, &k, nullptr);
  if (rc != MDB_NOTFOUND) check(rc, operation_, stored.name);
}

void transaction::put(const document_info& info, std::string_view xml, const std::optional<document_info>& stored) {
  if (stored) drop_lease_entry(*stored);
  MDB_val k = val(info.name), v = val(xml);
  check(mdb_put(txn_, dbs_.docs, &k, &v, 0), operation_, info.name);
  put_meta(info);
}

void transaction::put_info(const document_info& info, const document_info& stored) {
  drop_lease_entry(stored);
  put_meta(info);
}

void transaction::erase(const document_info& stored) {
  drop_lease_entry(stored);
  MDB_val k = val(stored.name);
  check(mdb_del(txn_, dbs_.docs, &k, nullptr), operation_, stored.name);
  check(mdb_del(txn_, dbs_.meta, &k, nullptr), operation_, stored.name);
}

std::vector<document_info> transaction::expired(clock::time_point up_to) {
  std::int64_t up_to_ns = to_ns(up_to);
  std::vector<std::string> due;  // index keys, collected before anything is deleted
  {
    cursor_ptr c = open_cursor(txn_, dbs_.leases, operation_, "");
    MDB_val k, v;
    int rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST);
    for (; rc == MDB_SUCCESS && lease_key_ns(view(k)) <= up_to_ns; rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT))
      due.emplace_back(view(k));
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) check(rc, operation_, "");
  }
  std::vector<document_info> out;
  for (const std::string& key : due) {
    std::optional<document_info> d = info(lease_key_name(key));
    if (d && d->lease_expires && lease_key(*d) == key) {
      out.push_back(std::move(*d));
    } else {
      MDB_val k = val(key);  // a stale index entry: should not exist, but never report a live document for it
      check(mdb_del(txn_, dbs_.leases, &k, nullptr), operation_, lease_key_name(key));
    }
  }
  return out;
}

void transaction::set_revision(std::uint64_t revision) {
  std::string b = encode_revision(revision);
  MDB_val k = val(revision_key), v = val(b);
  check(mdb_put(txn_, dbs_.sys, &k, &v, 0), operation_, "");
}

void transaction::append_change(const change_record& c) {
  std::string ck = change_key(c.revision), cv = encode_change(c);
  MDB_val k = val(ck), v = val(cv);
  check(mdb_put(txn_, dbs_.changes, &k, &v, 0), operation_, c.name);
}

void transaction::drop_changes_through(std::uint64_t revision) {
  cursor_ptr c = open_cursor(txn_, dbs_.changes, operation_, "change log");
  MDB_val k, v;
  int rc;
  while ((rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST)) == MDB_SUCCESS && change_key_revision(view(k)) <= revision)
    check(mdb_cursor_del(c.get(), 0), operation_, "change log");
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) check(rc, operation_, "change log");
}

bool transaction::insert_credential(const credential_record& c) {
  std::string record = encode_credential(c);
  MDB_val k = val(c.info.id), v = val(record);
  int rc = mdb_put(txn_, dbs_.creds, &k, &v, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) return false;
  check(rc, operation_, c.info.id);
  return true;
}

void transaction::erase_credential(std::string_view id) {
  MDB_val k = val(id);
  check(mdb_del(txn_, dbs_.creds, &k, nullptr), operation_, id);
}

std::vector<index_record> transaction::indexes() const {
  std::vector<index_record> out;
  cursor_ptr c = open_cursor(txn_, dbs_.indexes, operation_, "indexes");
  MDB_val k, v;
  int rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST);
  for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) out.push_back(decode_index(view(k), view(v)));
  if (rc != MDB_NOTFOUND) check(rc, operation_, "indexes");
  return out;
}

void transaction::index_lookup(std::string_view id, std::string_view value, std::string_view after,
                               const std::function<bool(std::string&&)>& each) const {
  std::string start = index_key(id, value, after);
  std::size_t names_at = id.size() + value.size() + 2;
  cursor_ptr c = open_cursor(txn_, dbs_.index_entries, operation_, id);
  MDB_val k = val(start), v;
  int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
  for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
    std::string_view key = view(k);
    if (key.size() <= names_at || key.substr(0, names_at) != std::string_view(start).substr(0, names_at)) return;
    std::string_view name = key.substr(names_at);
    if (!after.empty() && name <= after) continue;
    if (!each(std::string(name))) return;
  }
  if (rc != MDB_NOTFOUND) check(rc, operation_, id);
}

bool transaction::insert_index(const index_record& r) {
  std::string record = encode_index(r);
  MDB_val k = val(r.id), v = val(record);
  int rc = mdb_put(txn_, dbs_.indexes, &k, &v, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) return false;
  check(rc, operation_, r.id);
  return true;
}

void transaction::erase_range(MDB_dbi dbi, std::string_view prefix) {
  cursor_ptr c = open_cursor(txn_, dbi, operation_, prefix);
  MDB_val k = val(prefix), v;
  int rc;
  while ((rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE)) == MDB_SUCCESS && view(k).starts_with(prefix)) {
    check(mdb_cursor_del(c.get(), 0), operation_, prefix);
    k = val(prefix);
  }
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) check(rc, operation_, prefix);
}

void transaction::erase_index(std::string_view id) {
  MDB_val k = val(id);
  int rc = mdb_del(txn_, dbs_.indexes, &k, nullptr);
  if (rc != MDB_NOTFOUND) check(rc, operation_, id);
  std::string all = std::string(id) + '\0';
  erase_range(dbs_.index_entries, all);
  erase_range(dbs_.index_names, all);
}

void transaction::set_index_entries(std::string_view id, std::string_view name, const std::vector<std::string>& values) {
  std::string listed = index_key(id, name, "");  // id \0 name \0
  std::vector<std::string> old;
  {
    cursor_ptr c = open_cursor(txn_, dbs_.index_names, operation_, name);
    MDB_val k = val(listed), v;
    int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
    for (; rc == MDB_SUCCESS && view(k).starts_with(listed); rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT))
      old.emplace_back(view(k).substr(listed.size()));
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) check(rc, operation_, name);
  }
  for (const std::string& value : old) {
    std::string fk = index_key(id, value, name), rk = index_key(id, name, value);
    MDB_val f = val(fk), r = val(rk);
    check(mdb_del(txn_, dbs_.index_entries, &f, nullptr), operation_, name);
    check(mdb_del(txn_, dbs_.index_names, &r, nullptr), operation_, name);
  }
  MDB_val empty{0, nullptr};
  for (const std::string& value : values) {
    std::string fk = index_key(id, value, name), rk = index_key(id, name, value);
    MDB_val f = val(fk), r = val(rk);
    check(mdb_put(txn_, dbs_.index_entries, &f, &empty, 0), operation_, name);
    check(mdb_put(txn_, dbs_.index_names, &r, &empty, 0), operation_, name);
  }
}

}  // namespace xgate::store::lmdb
