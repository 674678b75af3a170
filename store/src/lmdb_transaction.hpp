// lmdb_engine's transactions as the store sees them: read_transaction and
// write_transaction over an MDB_txn, records encoded by lmdb_records.
#pragma once

#include <lmdb.h>

#include <string_view>

#include <xgate/store/engine.hpp>

namespace xgate::store::lmdb {

// Thrown inside a write transaction when LMDB reports MDB_MAP_FULL: the engine aborts the
// transaction, grows the map and runs it again. Never leaves the engine.
struct map_full {};

// Turns an LMDB failure into store_error(lmdb, operation, record) (map_full for MDB_MAP_FULL).
void check(int rc, std::string_view operation, std::string_view record);

inline MDB_val val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline std::string_view view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

struct databases {
  MDB_dbi docs = 0, meta = 0, sys = 0, leases = 0, changes = 0, creds = 0, indexes = 0, index_entries = 0, index_names = 0;
};

// A view of one MDB_txn (not owned; read-only ones are handed out as read_transaction).
// operation names the engine call, for errors.
class transaction final : public write_transaction {
 public:
  transaction(MDB_txn* txn, const databases& dbs, std::string_view operation) : txn_(txn), dbs_(dbs), operation_(operation) {}

  std::optional<document_info> info(std::string_view name) const override;
  std::string bytes(std::string_view name) const override;
  void scan(std::string_view prefix, std::string_view after,
            const std::function<bool(document_info&&)>& each) const override;
  std::uint64_t revision() const override;
  std::optional<std::uint64_t> oldest_change() const override;
  void changes_after(std::uint64_t after, const std::function<bool(change_record&&)>& each) const override;
  std::optional<credential_record> credential(std::string_view id) const override;
  std::vector<credential_record> credentials() const override;
  std::vector<index_record> indexes() const override;
  void index_lookup(std::string_view id, std::string_view value, std::string_view after,
                    const std::function<bool(std::string&&)>& each) const override;

  void put(const document_info& info, std::string_view xml, const std::optional<document_info>& stored) override;
  void put_info(const document_info& info, const document_info& stored) override;
  void erase(const document_info& stored) override;
  std::vector<document_info> expired(clock::time_point up_to) override;
  void set_revision(std::uint64_t revision) override;
  void append_change(const change_record& c) override;
  void drop_changes_through(std::uint64_t revision) override;
  bool insert_credential(const credential_record& c) override;
  void erase_credential(std::string_view id) override;
  bool insert_index(const index_record& r) override;
  void erase_index(std::string_view id) override;
  void set_index_entries(std::string_view id, std::string_view name, const std::vector<std::string>& values) override;

 private:
  void put_meta(const document_info& info);
  void drop_lease_entry(const document_info& stored);
  // Deletes every key of dbi that starts with prefix.
  void erase_range(MDB_dbi dbi, std::string_view prefix);

  MDB_txn* txn_;
  const databases& dbs_;
  std::string_view operation_;
};

}  // namespace xgate::store::lmdb
