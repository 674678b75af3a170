// The byte formats of lmdb_engine's records. Numbers are in native byte order, like LMDB's
// own files, which do not move between architectures either; keys that must sort
// numerically start with a big-endian number, so that LMDB's bytewise order is numeric.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <xgate/store/engine.hpp>

namespace xgate::store::lmdb {

// meta: name -> revision u64, created ns i64, modified ns i64, size u64, embedded u8, then
// creator and the four principal lists, each as u32 length + bytes, then lease expiry ns
// i64 (0: no lease) and lease holder.
std::string encode_info(const document_info& d);
// Throws store_error(lmdb, "read metadata", name) for a truncated record.
document_info decode_info(std::string_view name, std::string_view bytes);

// sys: "revision" -> the last revision, u64.
inline constexpr std::string_view revision_key = "revision";
std::string encode_revision(std::uint64_t revision);
std::uint64_t decode_revision(std::string_view bytes);

// changes: revision (big-endian u64) -> kind u8, name, creator, readers (u32 length + bytes
// each), then the time ns i64 (missing in records of older xgates).
std::string change_key(std::uint64_t revision);
std::uint64_t change_key_revision(std::string_view key);
std::string encode_change(const change_record& c);
// Throws store_error(lmdb, "change log") for a truncated record.
change_record decode_change(std::string_view key, std::string_view bytes);

// leases: expiry (big-endian ns) + name -> nothing.
std::string lease_key(const document_info& d);  // d holds a lease
std::int64_t lease_key_ns(std::string_view key);
std::string_view lease_key_name(std::string_view key);

// creds: credential id -> the 32-byte token hash, issued ns, then principal, scope, subtree
// u8, rights u8, expiry ns (0: none), parent id, label.
std::string encode_credential(const credential_record& c);
// Throws store_error(lmdb, "read credential", id) for a truncated record.
credential_record decode_credential(std::string_view id, std::string_view bytes);

// indexes: id -> prefix, expression, creator (u32 length + bytes each).
std::string encode_index(const index_record& r);
// Throws store_error(lmdb, "read index", id) for a truncated record.
index_record decode_index(std::string_view id, std::string_view bytes);

// index_entries: id \0 value \0 name -> nothing; index_names: id \0 name \0 value -> nothing
// (what a document is listed under, to take it out again). Ids, names and XML text hold no
// NUL byte, and the lengths (64 + 64 + 400) stay under LMDB's key limit of 511 bytes.
std::string index_key(std::string_view id, std::string_view first, std::string_view second);

}  // namespace xgate::store::lmdb
