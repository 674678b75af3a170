// The store's rules for documents: names, rights, compare-and-set, creators, leases, the
// revision order and the change log window. The engine keeps the records.
#include <xgate/store/store.hpp>

#include <algorithm>

#include <xgate/store/lmdb_engine.hpp>

#include "doc_rights.hpp"
#include "indexing.hpp"
#include "paging.hpp"
#include "store_impl.hpp"

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

std::string conflict_detail(std::uint64_t expected, const std::optional<document_info>& current) {
  return "revision conflict (expected " + std::to_string(expected) + ", current " +
         (current ? std::to_string(current->revision) : std::string("none")) + ")";
}

document_info found(std::optional<document_info> d, std::string_view operation, std::string_view name) {
  if (!d) throw store_error(store_errc::not_found, operation, name, "no such document");
  return std::move(*d);
}

// XML requires its declared encoding, and the store's documents are UTF-8: anything else
// would be served later under a UTF-8 label. Throws store_error(bad_document) naming the
// offset of the first byte that is not part of a valid UTF-8 sequence.
void check_utf8(std::string_view xml, std::string_view operation, std::string_view name) {
  auto refuse = [&](std::size_t at) {
    throw store_error(store_errc::bad_document, operation, name,
                      "not valid UTF-8 at byte offset " + std::to_string(at) + " (byte 0x" +
                          "0123456789abcdef"[static_cast<unsigned char>(xml[at]) >> 4] +
                          "0123456789abcdef"[static_cast<unsigned char>(xml[at]) & 15] + ")");
  };
  const auto* b = reinterpret_cast<const unsigned char*>(xml.data());
  std::size_t n = xml.size(), i = 0;
  while (i < n) {
    unsigned c = b[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len == 0) refuse(i);
    // The second byte's range excludes overlong forms, surrogates and code points past U+10FFFF.
    unsigned lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    unsigned hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    for (std::size_t k = 1; k < len; ++k) {
      if (i + k >= n) refuse(i);
      unsigned t = b[i + k];
      if (k == 1 ? (t < lo || t > hi) : (t < 0x80 || t > 0xbf)) refuse(i);
    }
    i += len;
  }
}

// The rights a write of xml under name would give the document.
std::pair<xgate::rights, bool> rights_for(std::string_view xml, std::string_view name, const caller& who,
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

}  // namespace

std::uint64_t store::impl::next_revision(write_transaction& t, std::string_view document, change_kind kind,
                                         const xgate::rights& rights) const {
  std::uint64_t r = t.revision() + 1;
  t.set_revision(r);
  xgate::rights readers;
  readers.creator = rights.creator;
  readers.read = rights.read;
  clock::time_point now = clock::now();
  t.append_change(change_record{r, kind, std::string(document), std::move(readers), now});
  // From the oldest entry, not just r - kept_changes: a store reopened with a smaller
  // window must not leave a gap that changes() could not detect.
  if (r > kept_changes) t.drop_changes_through(r - kept_changes);
  if (kept_age != clock::duration::zero()) {
    // The entries older than the age, from the oldest on (entries are in time order but for
    // untimed ones of an older xgate, which stop the drop until the count takes them).
    std::uint64_t through = 0;
    t.changes_after(0, [&](change_record&& c) {
      if (c.at == clock::time_point{} || c.at > now - kept_age || c.revision == r) return false;
      through = c.revision;
      return true;
    });
    if (through != 0) t.drop_changes_through(through);
  }
  return r;
}

void store::impl::erase(write_transaction& t, const document_info& d, change_kind kind) const {
  t.erase(d);
  detail::update_indexes(t, d.name, nullptr);
  next_revision(t, d.name, kind, d.rights);  // a removal is a change too
}

document_info store::impl::put(write_transaction& t, std::string_view operation, std::string_view name,
                               std::string_view xml, const caller& who, const write_options& o,
                               const std::optional<std::pair<xgate::rights, bool>>& forced) const {
  check_name(operation, name);
  std::optional<document_info> stored = t.info(name);
  std::optional<document_info> current = stored && !expired(*stored, clock::now()) ? stored : std::nullopt;
  if (o.expected_revision && (current ? current->revision : 0) != *o.expected_revision)
    throw store_error(store_errc::conflict, operation, name, conflict_detail(*o.expected_revision, current));
  if (xml.size() > max_document_size)
    throw store_error(store_errc::too_large, operation, name,
                      "the document has " + std::to_string(xml.size()) + " bytes, more than the limit of " +
                          std::to_string(max_document_size));
  if (current ? !allowed(who, current->rights, name, right::write) : !who.may(name, right::write))
    throw xgate::access_denied(who.principal(), "write", std::string(name));
  if (!forced) check_utf8(xml, operation, name);
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
    if (!is_valid_principal(who.principal())) throw xgate::access_denied(who.principal(), "write", std::string(name));
    if (rights.creator != who.principal())
      throw store_error(store_errc::creator_mismatch, operation, name,
                        "a new document's creator must be the writing principal \"" + printable(who.principal()) +
                            "\", the document claims \"" + printable(rights.creator) + "\"");
  }
  // An expired document this write replaces leaves as it would by reap(): watchers see
  // it expire before the new document appears.
  if (stored && !current) next_revision(t, name, change_kind::expired, stored->rights);
  document_info d;
  d.name = std::string(name);
  d.revision = next_revision(t, name, change_kind::written, rights);
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
  t.put(d, xml, stored);
  detail::update_indexes(t, name, &xml);
  return d;
}

store::store(const std::filesystem::path& dir, store_options options)
    : store(std::make_unique<lmdb_engine>(dir), options) {}

store::store(std::unique_ptr<xgate::store::engine> e, store_options options) : impl_(std::make_unique<impl>()) {
  impl_->kept_changes = options.kept_changes < 1 ? 1 : options.kept_changes;
  impl_->kept_age = options.kept_age;
  impl_->max_document_size = options.max_document_size;
  impl_->engine = std::move(e);
  impl_->foreign_poll = impl_->engine->detect_foreign_changes([s = impl_.get()] { s->wake(); });
}

store::~store() = default;

engine& store::engine() noexcept { return *impl_->engine; }
const engine& store::engine() const noexcept { return *impl_->engine; }

std::string store::address() const { return impl_->engine->address(); }

document_info store::write(std::string_view name, std::string_view xml, const caller& who,
                           const write_options& options) {
  check_name("write", name);
  return impl_->write("write", name, [&](write_transaction& t) { return impl_->put(t, "write", name, xml, who, options); });
}

document store::read(std::string_view name, const caller& who) const {
  check_name("read", name);
  return impl_->read("read", name, [&](const read_transaction& t) {
    document_info d = found(live_info(t, name), "read", name);
    if (!allowed(who, d.rights, name, right::read)) throw xgate::access_denied(who.principal(), "read", std::string(name));
    return document{std::move(d), t.bytes(name)};
  });
}

document_info store::info(std::string_view name, const caller& who) const {
  check_name("info", name);
  return impl_->read("info", name, [&](const read_transaction& t) {
    document_info d = found(live_info(t, name), "info", name);
    if (!allowed(who, d.rights, name, right::read)) throw xgate::access_denied(who.principal(), "read", std::string(name));
    return d;
  });
}

bool store::contains(std::string_view name) const {
  check_name("contains", name);
  return impl_->read("contains", name, [&](const read_transaction& t) { return live_info(t, name).has_value(); });
}

void store::remove(std::string_view name, const caller& who, std::optional<std::uint64_t> expected_revision) {
  check_name("remove", name);
  impl_->write("remove", name, [&](write_transaction& t) {
    std::optional<document_info> d = live_info(t, name);
    if (expected_revision && (d ? d->revision : 0) != *expected_revision)
      throw store_error(store_errc::conflict, "remove", name, conflict_detail(*expected_revision, d));
    if (!d) throw store_error(store_errc::not_found, "remove", name, "no such document");
    if (!allowed(who, d->rights, name, right::del)) throw xgate::access_denied(who.principal(), "delete", std::string(name));
    impl_->erase(t, *d);
  });
}

document store::take(std::string_view name, const caller& who) {
  check_name("take", name);
  return impl_->write("take", name, [&](write_transaction& t) {
    document_info d = found(live_info(t, name), "take", name);
    for (right r : {right::read, right::del})
      if (!allowed(who, d.rights, name, r)) throw xgate::access_denied(who.principal(), to_string(r), std::string(name));
    document out{std::move(d), t.bytes(name)};
    impl_->erase(t, out.info);
    return out;
  });
}

document_info store::copy(std::string_view from, std::string_view to, const caller& who) {
  check_name("copy", from);
  check_name("copy", to);
  return impl_->write("copy", from, [&](write_transaction& t) {
    document_info src = found(live_info(t, from), "copy", from);
    if (!allowed(who, src.rights, from, right::copy)) throw xgate::access_denied(who.principal(), "copy", std::string(from));
    std::string bytes = t.bytes(from);
    return impl_->put(t, "copy", to, bytes, who, {}, std::make_pair(src.rights, src.embedded_rights));
  });
}

std::vector<document_info> store::list(std::string_view prefix, const caller& who, std::size_t limit) const {
  prefix = check_prefix("list", prefix);
  return impl_->read("list", prefix, [&](const read_transaction& t) {
    std::vector<document_info> out;
    each_readable(t, prefix, who, [&](document_info&& d) {
      out.push_back(std::move(d));
      return limit == 0 || out.size() < limit;
    });
    return out;
  });
}

list_page store::list(std::string_view prefix, const caller& who, const list_options& options) const {
  prefix = check_prefix("list", prefix);
  std::optional<detail::cursor> from;
  if (!options.cursor.empty()) from = detail::parse_cursor("list", prefix, options.cursor);
  return impl_->read("list", prefix, [&](const read_transaction& t) {
    list_page page;
    if (from) {
      if (options.snapshot) detail::check_unchanged(t, "list", prefix, *from, who);
      page.revision = from->revision;
    } else {
      page.revision = t.revision();
    }
    // One past the limit tells whether there is a next page.
    each_readable(
        t, prefix, who,
        [&](document_info&& d) {
          if (options.limit != 0 && page.documents.size() == options.limit) {
            page.next = detail::format_cursor({page.revision, page.documents.back().name});
            return false;
          }
          page.documents.push_back(std::move(d));
          return true;
        },
        from ? std::string_view(from->last) : std::string_view());
    return page;
  });
}

std::vector<document_info> store::apply(const batch& b, const caller& who) {
  for (const batch::op& o : b.ops()) check_name(o.remove ? "batch remove" : "batch write", o.name);
  return impl_->write("batch", "", [&](write_transaction& t) {
    std::vector<document_info> out;
    for (const batch::op& o : b.ops()) {
      if (o.remove) {
        document_info d = found(live_info(t, o.name), "batch remove", o.name);
        if (!allowed(who, d.rights, o.name, right::del)) throw xgate::access_denied(who.principal(), "delete", o.name);
        impl_->erase(t, d);
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
  if (who.principal() != d->lease_holder || !who.may(name, right::write))
    throw xgate::access_denied(who.principal(), "lease", std::string(name));
  return std::move(*d);
}
}  // namespace

document_info store::renew_lease(std::string_view name, const caller& who, clock::duration ttl) {
  check_name("renew lease", name);
  return impl_->write("renew lease", name, [&](write_transaction& t) {
    document_info stored = leased(live_info(t, name), "renew lease", name, who);
    document_info d = stored;
    d.lease_expires = clock::now() + ttl;
    t.put_info(d, stored);
    return d;
  });
}

document_info store::cancel_lease(std::string_view name, const caller& who) {
  check_name("cancel lease", name);
  return impl_->write("cancel lease", name, [&](write_transaction& t) {
    document_info stored = leased(live_info(t, name), "cancel lease", name, who);
    document_info d = stored;
    d.lease_expires.reset();
    d.lease_holder.clear();
    t.put_info(d, stored);
    return d;
  });
}

std::vector<std::string> store::reap(clock::time_point now) {
  return impl_->write("reap", "", [&](write_transaction& t) {
    std::vector<std::string> removed;
    for (const document_info& d : t.expired(now)) {
      impl_->erase(t, d, change_kind::expired);
      removed.push_back(d.name);
    }
    return removed;
  });
}

index_info store::add_index(std::string_view id, std::string_view prefix, std::string_view expression, const caller& who) {
  detail::check_index("add index", id, expression);
  prefix = check_prefix("add index", prefix);
  if (!is_valid_principal(who.principal())) throw xgate::access_denied(who.principal(), "add index", std::string(id));
  index_info added{std::string(id), std::string(prefix), std::string(expression), who.principal()};
  impl_->write("add index", id, [&](write_transaction& t) {
    if (!t.insert_index(added))
      throw store_error(store_errc::conflict, "add index", id, "an index with this id exists");
    // Every document under the prefix, whoever may read it: the index serves every caller.
    std::vector<document_info> docs;
    t.scan(prefix, "", [&](document_info&& d) {
      if (is_under(d.name, prefix)) docs.push_back(std::move(d));
      return true;
    });
    for (const document_info& d : docs) t.set_index_entries(id, d.name, detail::index_values(expression, t.bytes(d.name)));
  });
  return added;
}

void store::remove_index(std::string_view id, const caller& who) {
  impl_->write("remove index", id, [&](write_transaction& t) {
    std::vector<index_info> all = t.indexes();
    auto it = std::find_if(all.begin(), all.end(), [&](const index_info& x) { return x.id == id; });
    if (it == all.end()) throw store_error(store_errc::not_found, "remove index", id, "no such index");
    if (it->creator != who.principal()) throw xgate::access_denied(who.principal(), "remove index", std::string(id));
    t.erase_index(id);
  });
}

std::vector<index_info> store::indexes() const {
  return impl_->read("indexes", "", [&](const read_transaction& t) { return t.indexes(); });
}

std::uint64_t store::revision() const {
  return impl_->read("revision", "", [&](const read_transaction& t) { return t.revision(); });
}

}  // namespace xgate::store
