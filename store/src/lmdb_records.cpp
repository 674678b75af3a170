#include "lmdb_records.hpp"

#include <cstring>

#include "record_times.hpp"

namespace xgate::store::lmdb {

namespace {

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


class reader {
 public:
  reader(std::string_view in, std::string_view operation, std::string_view record)
      : in_(in), operation_(operation), record_(record) {}
  template <class T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, in_.data(), sizeof(T));
    in_.remove_prefix(sizeof(T));
    return v;
  }
  bool done() const noexcept { return in_.empty(); }
  std::string_view str() {
    auto n = get<std::uint32_t>();
    need(n);
    std::string_view s = in_.substr(0, n);
    in_.remove_prefix(n);
    return s;
  }

 private:
  void need(std::size_t n) {
    if (in_.size() < n) throw store_error(store_errc::lmdb, operation_, record_, "truncated metadata record");
  }
  std::string_view in_, operation_, record_;
};

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

}  // namespace

std::string encode_info(const document_info& d) {
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

document_info decode_info(std::string_view name, std::string_view bytes) {
  reader r(bytes, "read metadata", name);
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

std::string encode_revision(std::uint64_t revision) {
  std::string out;
  put_int(out, revision);
  return out;
}

std::uint64_t decode_revision(std::string_view bytes) { return reader(bytes, "read metadata", "").get<std::uint64_t>(); }

std::string change_key(std::uint64_t revision) { return be64(revision); }
std::uint64_t change_key_revision(std::string_view key) { return from_be64(key); }

std::string encode_change(const change_record& c) {
  std::string out;
  put_int(out, static_cast<std::uint8_t>(c.kind));
  put_str(out, c.name);
  put_str(out, c.readers.creator);
  put_str(out, join_principals(c.readers.read));
  put_int(out, to_ns(c.at));
  return out;
}

change_record decode_change(std::string_view key, std::string_view bytes) {
  reader r(bytes, "read metadata", "change log");
  change_record c;
  c.revision = change_key_revision(key);
  c.kind = static_cast<change_kind>(r.get<std::uint8_t>());
  c.name = std::string(r.str());
  c.readers.creator = std::string(r.str());
  c.readers.read = parse_principals(r.str());
  if (!r.done()) c.at = from_ns(r.get<std::int64_t>());  // absent in records of older xgates
  return c;
}

std::string lease_key(const document_info& d) { return be64(static_cast<std::uint64_t>(to_ns(*d.lease_expires))) + d.name; }
std::int64_t lease_key_ns(std::string_view key) { return static_cast<std::int64_t>(from_be64(key)); }
std::string_view lease_key_name(std::string_view key) { return key.substr(8); }

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
  // Added in the second record layout: a record that ends after the label has no methods.
  if (!c.info.granted.methods.empty()) put_str(out, join_methods(c.info.granted.methods));
  return out;
}

credential_record decode_credential(std::string_view id, std::string_view bytes) {
  if (bytes.size() < token_hash_bytes)
    throw store_error(store_errc::lmdb, "read credential", id, "truncated credential record");
  credential_record c;
  c.hash = std::string(bytes.substr(0, token_hash_bytes));
  reader r(bytes.substr(token_hash_bytes), "read metadata", id);
  c.info.id = std::string(id);
  c.info.issued = from_ns(r.get<std::int64_t>());
  c.info.granted.principal = std::string(r.str());
  c.info.granted.scope = std::string(r.str());
  c.info.granted.subtree = r.get<std::uint8_t>() != 0;
  c.info.granted.rights = right_set::from_bits(r.get<std::uint8_t>());
  if (auto expires = r.get<std::int64_t>()) c.info.granted.expires = from_ns(expires);
  c.info.parent = std::string(r.str());
  c.info.label = std::string(r.str());
  if (!r.done()) {
    auto methods = parse_methods(r.str());
    if (!methods) throw store_error(store_errc::lmdb, "read credential", id, "bad methods in credential record");
    c.info.granted.methods = std::move(*methods);
  }
  return c;
}

std::string encode_index(const index_record& r) {
  std::string out;
  put_str(out, r.prefix);
  put_str(out, r.expression);
  put_str(out, r.creator);
  return out;
}

index_record decode_index(std::string_view id, std::string_view bytes) {
  reader r(bytes, "read index", id);
  index_record x;
  x.id = std::string(id);
  x.prefix = std::string(r.str());
  x.expression = std::string(r.str());
  x.creator = std::string(r.str());
  return x;
}

std::string index_key(std::string_view id, std::string_view first, std::string_view second) {
  std::string k;
  k.reserve(id.size() + first.size() + second.size() + 2);
  k.append(id).push_back('\0');
  k.append(first).push_back('\0');
  k.append(second);
  return k;
}

}  // namespace xgate::store::lmdb
