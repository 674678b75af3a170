#include <xgate/store/open.hpp>

#include <filesystem>
#include <string>

#include <xgate/store/lmdb_engine.hpp>
#include <xgate/store/postgresql_engine.hpp>

#include "indexing.hpp"

namespace xgate::store {

std::unique_ptr<engine> open_engine(std::string_view data) {
  if (postgresql_engine::is_address(data)) return std::make_unique<postgresql_engine>(std::string(data));
  return std::make_unique<lmdb_engine>(std::filesystem::path(data));
}

copy_summary copy_store(const engine& from, engine& to) {
  copy_summary n;
  from.read("copy", "", [&](const read_transaction& source) {
    to.write("copy", "", [&](write_transaction& target) {
      n = {};  // the engine may run this again
      if (std::uint64_t r = target.revision(); r != 0)
        throw store_error(store_errc::conflict, "copy", "",
                          "the destination is not a new store (its revision is " + std::to_string(r) + ")");
      const std::vector<index_record> indexes = source.indexes();
      source.scan("", "", [&](document_info&& d) {
        std::string bytes = source.bytes(d.name);
        target.put(d, bytes, std::nullopt);
        std::string_view xml = bytes;
        detail::update_indexes(target, indexes, d.name, &xml);
        ++n.documents;
        return true;
      });
      for (const credential_record& c : source.credentials()) {
        if (!target.insert_credential(c))
          throw store_error(store_errc::conflict, "copy", c.info.id, "the destination has this credential already");
        ++n.credentials;
      }
      for (const index_record& x : indexes) {
        if (!target.insert_index(x))
          throw store_error(store_errc::conflict, "copy", x.id, "the destination has this index already");
        ++n.indexes;
      }
      source.changes_after(0, [&](change_record&& c) {
        target.append_change(c);
        ++n.changes;
        return true;
      });
      n.revision = source.revision();
      target.set_revision(n.revision);
    });
  });
  return n;
}

}  // namespace xgate::store
