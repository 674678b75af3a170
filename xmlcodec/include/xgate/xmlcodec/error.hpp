// The codec's errors. Every failure has a named code (like LMDB's MDB_* codes) and a message
// that says where (document, line, element path) and what. How errors work across xgate,
// and which are worth a retry: xgate/base/error.hpp and docs/errors.md.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <xgate/base/error.hpp>

namespace xgate {

enum class errc {
  malformed_xml = 1,     // not well-formed XML
  forbidden_markup,      // DOCTYPE, entity declarations or references to undeclared entities
  too_deep,              // element nesting beyond decode_options::max_depth
  too_large,             // document beyond decode_options::max_bytes
  not_xgate_document,    // the root is not <xg:doc xmlns:xg="urn:xgate:1">
  wrong_root_type,       // the document holds another type than the one asked for
  unknown_type,          // a type name that is not registered
  abstract_type,         // a registered type that cannot be instantiated
  unknown_field,         // an element the type does not describe (strict mode)
  missing_field,         // a field absent in a document of the type's current version (strict mode)
  unexpected_content,    // text or elements where none may be
  missing_id,            // xg:ref names an id no object carries
  duplicate_id,          // two objects carry the same xg:id
  wrong_ref_type,        // xg:ref names an object of an incompatible type
  unreferenced_object,   // a shared object that nothing refers to
  bad_number,            // not a number of the expected kind
  number_out_of_range,   // a number that does not fit the field
  bad_value,             // a bool, enum name, variant index or count that is not allowed
  bad_base64,            // invalid base64
  bad_text,              // characters XML cannot carry, invalid UTF-8, bad xg:x escape
  duplicate_key,         // the same key twice in a map or set
  version_too_new,       // a type version newer than this program knows
  access_denied,         // the principal lacks the right
  signature_invalid,     // the signature does not match the bytes it covers
  not_signed,            // a key was given but the document carries no signature
  key_error,             // a key file that cannot be read or used
  encode_failure,        // an object graph that cannot be written (unregistered type, dangling pointer)
  io_error,              // a sink or file failed
};
}  // namespace xgate

template <>
struct std::is_error_code_enum<xgate::errc> : std::true_type {};

namespace xgate {

// The category of errc ("xgate.codec"); each code's condition is in docs/errors.md.
[[nodiscard]] const code_category& codec_category() noexcept;
[[nodiscard]] inline std::error_code make_error_code(errc code) noexcept {
  return {static_cast<int>(code), codec_category()};
}
[[nodiscard]] const char* to_string(errc code) noexcept;                         // "malformed_xml", ...
[[nodiscard]] std::optional<errc> errc_from_string(std::string_view name) noexcept;  // the inverse

// A document that cannot be decoded. what() reads "DOC:LINE: at PATH: DETAIL".
class decode_error : public error {
 public:
  decode_error(errc code, std::string document, std::size_t line, std::string path, std::string detail);
  const std::string& document() const noexcept { return document_; }
  std::size_t line() const noexcept { return line_; }  // 0 when unknown
  const std::string& path() const noexcept { return path_; }
  const std::string& detail() const noexcept { return detail_; }

 private:
  std::string document_, path_, detail_;
  std::size_t line_;
};

class access_denied : public error {
 public:
  access_denied(std::string principal, std::string right, std::string document, std::string path = {});
  const std::string& principal() const noexcept { return principal_; }
  const std::string& right() const noexcept { return right_; }
  const std::string& document() const noexcept { return document_; }

 private:
  std::string principal_, right_, document_;
};

class signature_error : public error {
 public:
  signature_error(errc code, const std::string& message) : error(code, message) {}
};

class encode_error : public error {
 public:
  explicit encode_error(const std::string& message, errc code = errc::encode_failure) : error(code, message) {}
};

}  // namespace xgate
