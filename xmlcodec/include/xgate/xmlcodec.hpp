// xgate::xmlcodec — compile a graph of described objects to XML and back.
//
//   std::string xml = xgate::to_xml(order, {.rights = xgate::rights::owned_by("alice").readers({"*"})});
//   auto back = xgate::from_xml<shop::Order>(xml, {.principal = "bob"});
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include <xgate/reflect/reflect.hpp>
#include <xgate/xmlcodec/boost_compat.hpp>
#include <xgate/xmlcodec/codec.hpp>
#include <xgate/xmlcodec/error.hpp>
#include <xgate/xmlcodec/options.hpp>
#include <xgate/xmlcodec/registry.hpp>
#include <xgate/xmlcodec/rights.hpp>
#include <xgate/xmlcodec/schema.hpp>
#include <xgate/xmlcodec/signing.hpp>
#include <xgate/xmlcodec/sink.hpp>

namespace xgate {

namespace detail {
template <class T>
void encode_document(encoder& e, const T& value) {
  e.begin_document();
  if constexpr (reaches_raw<T>()) {
    collector c;
    collect_value(c, value);
    c.drain();
    e.set_targets(std::move(c.targets));
  }
  encode_value(e, top_tag<T>(), value);
  e.write_pool();
  e.end_document();
}

template <class T>
void decode_document(decoder& d, T& out) {
  d.open_document();
  xnode root = d.root_object();
  if (!name_is(root, top_tag<T>()))
    d.fail(errc::wrong_root_type, root,
           "the document holds <" + std::string(root.name()) + ">, expected <" + std::string(top_tag<T>()) + ">");
  decode_value(d, root, out);
  d.finish();
}
}  // namespace detail

// Encodes into any sink, in chunks.
template <class T>
void to_xml(const T& value, xml_sink& sink, const encode_options& options = {}) {
  detail::encoder e(options, &sink);
  detail::encode_document(e, value);
}

template <class T>
void to_xml(const T& value, std::ostream& os, const encode_options& options = {}) {
  ostream_sink sink(os);
  to_xml(value, sink, options);
}

// The document as a string. Each thread keeps its last output buffer (up to 64 MiB) to
// write the next document into memory that is already mapped.
template <class T>
std::string to_xml(const T& value, const encode_options& options = {}) {
  detail::encoder e(options, nullptr);
  detail::encode_document(e, value);
  return e.take_output();
}

// The same into `out`, reusing its capacity (for loops that encode many documents).
template <class T>
void to_xml(const T& value, std::string& out, const encode_options& options = {}) {
  detail::encoder e(options, nullptr);
  detail::encode_document(e, value);
  e.take_output(out);
}

// A decoded value with what the document said about itself.
template <class T>
struct document {
  T value{};
  std::optional<xgate::rights> rights;  // absent: the document carried none
  bool is_signed = false;
  std::string key_name;                  // the signature's key name, when signed
};

// Fills `out` in place (raw pointers into `out` stay valid). On failure `out` is reset to
// a default-constructed value and the error is thrown: never a half-decoded object.
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

template <class T>
T from_xml(std::string_view xml, const decode_options& options = {}) {
  T out{};
  detail::decoder d(xml, options);
  detail::decode_document(d, out);
  return out;
}

template <class T>
document<T> decode_document(std::string_view xml, const decode_options& options = {}) {
  document<T> doc;
  detail::decoder d(xml, options);
  detail::decode_document(d, doc.value);
  doc.rights = d.document_rights();
  doc.is_signed = d.signed_document();
  doc.key_name = std::string(d.signature_key_name());
  return doc;
}

// The rights a document carries, read without knowing its type (the store enforces them).
// The XML is checked as strictly as decoding checks it (well-formed, no DOCTYPE or entities,
// limits, the xgate frame); throws decode_error otherwise. nullopt for an xgate document
// without <xg:rights>, and for well-formed XML that is not an xgate document at all.
std::optional<rights> embedded_rights(std::string_view xml, const decode_options& options = {});

namespace detail {
template <class T>
std::string recode_erased(std::string_view xml, const decode_options& dopt, const encode_options& eopt) {
  document<T> doc = decode_document<T>(xml, dopt);
  encode_options o = eopt;
  if (!o.rights) o.rights = doc.rights;
  return to_xml(doc.value, o);
}

template <class T, T (*Make)(std::uint64_t, std::size_t)>
std::string sample_erased(std::uint64_t seed, std::size_t count, const encode_options& options) {
  return to_xml(Make(seed, count), options);
}

template <class T, T (*Make)(std::uint64_t, std::size_t)>
struct auto_sample {
  auto_sample() { registry::instance().set_sample(typeid(T), &sample_erased<T, Make>); }
};
}  // namespace detail

}  // namespace xgate

// Registers a generator `T make(std::uint64_t seed, std::size_t count)` for `xgate sample`.
#define XGATE_SAMPLE(T, MAKE)                                                        \
  [[maybe_unused]] static const ::xgate::detail::auto_sample<T, &MAKE> XGATE_DETAIL_REG_NAME( \
      xgate_sample_, __COUNTER__) {}
