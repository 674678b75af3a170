// What XGATE_REGISTER and XGATE_SAMPLE (xmlcodec.hpp) expand to: static objects that fill
// the type table (type_entry.hpp) with a type's name and type-erased codec functions before
// main runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>

#include <xgate/reflect/reflect.hpp>
#include <xgate/xmlcodec/detail/decode.hpp>
#include <xgate/xmlcodec/detail/encode.hpp>
#include <xgate/xmlcodec/detail/type_entry.hpp>
#include <xgate/xmlcodec/detail/xsd.hpp>
#include <xgate/xmlcodec/options.hpp>

namespace xgate::detail {

template <class D, class... Bases>
void add_upcasts(type_entry& te, type_list<Bases...>);

template <class D, class B>
void add_upcast(type_entry& te) {
  te.upcasts.emplace_back(typeid(B), [](void* p) -> void* { return static_cast<B*>(static_cast<D*>(p)); });
  if constexpr (reflected<B>) add_upcasts<D>(te, typename meta<B>::bases{});
}
template <class D, class... Bases>
void add_upcasts(type_entry& te, type_list<Bases...>) {
  (add_upcast<D, Bases>(te), ...);
}

// Decodes a document of T and encodes it again, keeping its rights unless eopt sets others.
template <class T>
std::string recode_erased(std::string_view xml, const decode_options& dopt, const encode_options& eopt) {
  T value{};
  decoder d(xml, dopt);
  decode_document(d, value);
  encode_options o = eopt;
  if (!o.rights) o.rights = d.document_rights();
  return encode_to_string(value, o);
}

template <class T, T (*Make)(std::uint64_t, std::size_t)>
std::string sample_erased(std::uint64_t seed, std::size_t count, const encode_options& options) {
  return encode_to_string(Make(seed, count), options);
}

template <class T>
type_entry make_type_entry() {
  static_assert(reflected<T>, "xgate: XGATE_REGISTER needs a type described with XGATE_TYPE / XGATE_REFLECT");
  type_entry te;
  te.name = meta<T>::name;
  te.version = meta<T>::version;
  te.type = typeid(T);
  te.polymorphic = std::is_polymorphic_v<T>;
  te.encode = &encode_erased<T>;
  te.decode = &decode_erased<T>;
  te.collect = &collect_erased<T>;
  if constexpr (!std::is_abstract_v<T> && std::is_default_constructible_v<T>) {
    te.create_shared = &make_shared_erased<T>;
    te.create_raw = []() -> void* { return new T(); };
    te.destroy_raw = [](void* p) { delete static_cast<T*>(p); };
    te.reset = &reset_erased<T>;
    te.recode = &recode_erased<T>;
  }
  add_upcasts<T>(te, typename meta<T>::bases{});
  te.schema = &schema_erased<T>;
  return te;
}

template <class T>
struct auto_register {
  auto_register() { add_entry(make_type_entry<T>()); }
};

template <class T, T (*Make)(std::uint64_t, std::size_t)>
struct auto_sample {
  auto_sample() { add_sample(typeid(T), &sample_erased<T, Make>); }
};

}  // namespace xgate::detail

// A name no other static object in the translation unit has (XGATE_REGISTER, XGATE_SAMPLE).
#define XGATE_DETAIL_REG_NAME2(a, b) a##b
#define XGATE_DETAIL_REG_NAME(a, b) XGATE_DETAIL_REG_NAME2(a, b)

