// XSD for a type and every type it reaches, so programs in any language can validate what
// xgate writes: one schema document with target namespace urn:xgate:1. Struct types become
// named complex types; shared objects are allowed in the document's pool; polymorphic
// pointers list the registered types that can stand there.
#pragma once

#include <string>
#include <string_view>

#include <xgate/xmlcodec/detail/xsd.hpp>

namespace xgate {

// The XSD for documents whose root is a T.
template <class T>
[[nodiscard]] std::string schema() {
  detail::schema_builder b;
  detail::xsd_type t = detail::xsd_of<T>(b);
  std::string_view tag = detail::top_tag<T>();
  std::string root = tag.starts_with("xg:") ? detail::xsd_element(tag.substr(3), t, " form=\"qualified\"")
                                            : detail::xsd_element(tag, t);
  return b.finish(root);
}

// The XSD for documents whose root is the registered type `registered_name`.
// Throws error(errc::unknown_type) when no type is registered under that name.
[[nodiscard]] std::string schema(std::string_view registered_name);

}  // namespace xgate
