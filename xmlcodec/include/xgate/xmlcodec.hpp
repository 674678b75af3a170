// xgate::xmlcodec — compile a graph of described objects to XML and back.
//
//   std::string xml = xgate::to_xml(order, {.rights = xgate::rights::owned_by("alice").readers({"*"})});
//   auto back = xgate::from_xml<shop::Order>(xml, {.principal = "bob"});
//
// This page is the public API. A "document" is always XML text: what to_xml writes and
// from_xml reads. Describe types with reflect.hpp's XGATE_TYPE / XGATE_REFLECT / XGATE_ENUM
// (the table of C++ types and their XML forms is in the top-level README.md). Beside this page:
//   xmlcodec/options.hpp   encode_options, decode_options, limits (every default stated there)
//   xmlcodec/error.hpp     errc and the exceptions below
//   xmlcodec/rights.hpp    rights, restricted<T>
//   xmlcodec/signing.hpp   signing_key, verify_key
//   xmlcodec/sink.hpp      xml_sink: where streamed output goes
//   xmlcodec/registry.hpp  registry, registered_type: types by name
//   xmlcodec/schema.hpp    schema<T>(): the XSD of a type's documents
//   xmlcodec/escape.hpp    escaping for XML built by hand
// Everything under xmlcodec/detail/ is the implementation.
//
// What encoding throws (every to_xml):
//   encode_error (errc::encode_failure): a polymorphic object whose dynamic type is not
//     registered, a raw pointer aiming outside the encoded graph, an object only weak_ptrs
//     (or a cycle of shared_ptrs nothing else owns) reach, an object held twice by value, a
//     withheld restricted<T>, a valueless variant, nesting deeper than
//     encode_options::max_depth, an invalid creator name in encode_options::rights.
//   error (errc::io_error): the sink failed (ostream_sink, or your own sink's exception).
//   error (errc::key_error): encode_options::sign is set and libsodium cannot start.
// What decoding throws (from_xml, decode):
//   decode_error: the document is not acceptable; code() names why (errc: malformed_xml,
//     forbidden_markup, too_deep, too_large, not_xgate_document, wrong_root_type,
//     unknown_type, abstract_type, unknown_field, missing_field, unexpected_content,
//     missing_id, duplicate_id, wrong_ref_type, unreferenced_object, bad_number,
//     number_out_of_range, bad_value, bad_base64, bad_text, duplicate_key, version_too_new),
//     and what() says where: "DOC:LINE: at PATH: DETAIL".
//   access_denied (errc::access_denied): the document's rights refuse decode_options::principal
//     the right decode_options::mode asks for.
//   signature_error: decode_options::verify is set and the document is not signed
//     (errc::not_signed) or its signature does not match (errc::signature_invalid);
//     error (errc::key_error) when libsodium cannot start.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include <xgate/reflect/reflect.hpp>
#include <xgate/xmlcodec/boost_compat.hpp>
#include <xgate/xmlcodec/detail/boost_archive.hpp>
#include <xgate/xmlcodec/detail/decode.hpp>
#include <xgate/xmlcodec/detail/encode.hpp>
#include <xgate/xmlcodec/detail/registration.hpp>
#include <xgate/xmlcodec/error.hpp>
#include <xgate/xmlcodec/options.hpp>
#include <xgate/xmlcodec/registry.hpp>
#include <xgate/xmlcodec/rights.hpp>
#include <xgate/xmlcodec/schema.hpp>
#include <xgate/xmlcodec/signing.hpp>
#include <xgate/xmlcodec/sink.hpp>

namespace xgate {

// ---- encoding: value -> document ---------------------------------------------------------

// Writes the document into `sink` in chunks, as it goes (a failed call may have written a
// part). Throws what encoding throws (above).
template <class T>
void to_xml(const T& value, xml_sink& sink, const encode_options& options = {}) {
  detail::encoder e(options, &sink);
  detail::encode_document(e, value);
}

// The same into a stream. Throws what encoding throws; error(errc::io_error) when the
// stream fails.
template <class T>
void to_xml(const T& value, std::ostream& os, const encode_options& options = {}) {
  ostream_sink sink(os);
  to_xml(value, sink, options);
}

// The document as a string. Each thread keeps its last output buffer (up to 64 MiB) to
// write the next document into memory that is already mapped. Throws what encoding throws.
template <class T>
[[nodiscard]] std::string to_xml(const T& value, const encode_options& options = {}) {
  return detail::encode_to_string(value, options);
}

// The same into `out`, reusing its capacity (for loops that encode many documents).
// Throws what encoding throws; `out` is then unspecified.
template <class T>
void to_xml(const T& value, std::string& out, const encode_options& options = {}) {
  detail::encoder e(options, nullptr);
  detail::encode_document(e, value);
  e.take_output(out);
}

// ---- decoding: document -> value ---------------------------------------------------------

// Fills `out` in place (raw pointers into `out` stay valid). On failure `out` is reset to
// a default-constructed value and the error is thrown: never a half-decoded object.
// Throws what decoding throws (above).
template <class T>
void from_xml(std::string_view xml, T& out, const decode_options& options = {}) {
  detail::decoder d(xml, options);
  try {
    detail::decode_document(d, out);
  } catch (...) {
    out = T{};
    throw;
  }
}

// The decoded value. Raw pointers that aim into the root object itself need the overload
// above, which fills the object in place. Throws what decoding throws.
template <class T>
[[nodiscard]] T from_xml(std::string_view xml, const decode_options& options = {}) {
  T out{};
  detail::decoder d(xml, options);
  detail::decode_document(d, out);
  return out;
}

// A decoded value with what its document said about itself.
template <class T>
struct decoded {
  T value{};
  std::optional<xgate::rights> rights;  // absent: the document carried none
  bool is_signed = false;                // the document ends in <xg:signature> (verified only
                                         // when decode_options::verify was set)
  std::string key_name;                  // the signature's key name, when signed
};

// from_xml, plus the document's rights and signature. Throws what decoding throws.
template <class T>
[[nodiscard]] decoded<T> decode(std::string_view xml, const decode_options& options = {}) {
  decoded<T> result;
  detail::decoder d(xml, options);
  detail::decode_document(d, result.value);
  result.rights = d.document_rights();
  result.is_signed = d.signed_document();
  result.key_name = std::string(d.signature_key_name());
  return result;
}

// The rights a document carries, read without knowing its type (the store enforces them).
// nullopt for an xgate document without <xg:rights>, and for well-formed XML that is not an
// xgate document at all. The XML is checked as strictly as decoding checks it
// (well-formed, no DOCTYPE or entities, options.limits, the xgate frame, the signature
// when options.verify is set): throws decode_error or signature_error otherwise. Never
// access_denied: options.principal and options.mode are not consulted.
[[nodiscard]] std::optional<rights> embedded_rights(std::string_view xml, const decode_options& options = {});

}  // namespace xgate

// ---- registration (at namespace scope, once per type, in one .cpp or a header) ------------

// Registers a type described with XGATE_TYPE under its name, so that it can be decoded from
// the name in a document (polymorphic pointers) and found by tools (registry.hpp). Two
// different types under one name, or one type under two names, throw std::logic_error while
// the program starts.
#define XGATE_REGISTER(T) \
  [[maybe_unused]] static const ::xgate::detail::auto_register<T> XGATE_DETAIL_REG_NAME(xgate_registration_, __COUNTER__) {}

// Registers a generator `T make(std::uint64_t seed, std::size_t count)` for `xgate sample`
// and registered_type::sample. T must be registered first (XGATE_REGISTER, earlier in the
// same translation unit): std::logic_error otherwise, while the program starts.
#define XGATE_SAMPLE(T, MAKE)                                                        \
  [[maybe_unused]] static const ::xgate::detail::auto_sample<T, &MAKE> XGATE_DETAIL_REG_NAME( \
      xgate_sample_, __COUNTER__) {}
