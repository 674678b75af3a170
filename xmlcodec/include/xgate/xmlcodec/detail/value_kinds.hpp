// How each kind of C++ value maps to XML: one classification (kind_of) drives the encoder
// (encode.hpp), the decoder (decode.hpp), the raw-pointer pre-pass and the schema generator
// (xsd.hpp). The table of C++ types and their XML forms is in the top-level README.md.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include <boost/core/demangle.hpp>

#include <xgate/reflect/reflect.hpp>
#include <xgate/xmlcodec/boost_compat.hpp>
#include <xgate/xmlcodec/rights.hpp>

namespace xgate::detail {

template <class T, template <class...> class Tmpl>
struct is_specialization : std::false_type {};
template <template <class...> class Tmpl, class... Args>
struct is_specialization<Tmpl<Args...>, Tmpl> : std::true_type {};
template <class T, template <class...> class Tmpl>
constexpr bool is_spec_v = is_specialization<T, Tmpl>::value;

template <class T>
struct is_std_array : std::false_type {};
template <class T, std::size_t N>
struct is_std_array<std::array<T, N>> : std::true_type {};

template <class T>
struct is_duration : std::false_type {};
template <class R, class P>
struct is_duration<std::chrono::duration<R, P>> : std::true_type {};
template <class T>
struct is_time_point : std::false_type {};
template <class C, class D>
struct is_time_point<std::chrono::time_point<C, D>> : std::true_type {};

// Boost.Serialization member serialize(Archive&, unsigned), probed with a stand-in archive.
struct probe_archive {
  using is_saving = std::true_type;
  using is_loading = std::false_type;
  template <class U>
  probe_archive& operator&(const U&);
  template <class U>
  probe_archive& operator<<(const U&);
};
template <class T>
concept has_member_serialize = requires(T& t, probe_archive& ar) { t.serialize(ar, 0u); };
// A free serialize(Archive&, T&, unsigned) in T's own namespace, found by ADL. (Boost's
// catch-all template in boost::serialization is not found this way; free functions written
// inside namespace boost::serialization need use_boost_serialization<T>.)
template <class T>
concept has_free_serialize = requires(T& t, probe_archive& ar) { serialize(ar, t, 0u); };

enum class kind {
  monostate, restricted, boolean, integer, floating, described_enum, plain_enum, string, bytes, optional, variant,
  pair, tuple, duration, time_point, unique_ptr, shared_ptr, weak_ptr, raw_ptr, sequence, array,
  set, map, structure, boost_serializable, unsupported
};

template <class T>
constexpr kind kind_of() {
  if constexpr (std::is_same_v<T, std::monostate>) return kind::monostate;
  else if constexpr (is_spec_v<T, restricted>) return kind::restricted;
  else if constexpr (std::is_same_v<T, bool>) return kind::boolean;
  else if constexpr (std::is_integral_v<T>) return kind::integer;
  else if constexpr (std::is_floating_point_v<T>) return kind::floating;
  else if constexpr (described_enum<T>) return kind::described_enum;
  else if constexpr (std::is_enum_v<T>) return kind::plain_enum;
  else if constexpr (std::is_same_v<T, std::string>) return kind::string;
  else if constexpr (std::is_same_v<T, std::vector<std::byte>> || std::is_same_v<T, std::vector<unsigned char>>) return kind::bytes;
  else if constexpr (is_spec_v<T, std::optional>) return kind::optional;
  else if constexpr (is_spec_v<T, std::variant>) return kind::variant;
  else if constexpr (is_spec_v<T, std::pair>) return kind::pair;
  else if constexpr (is_spec_v<T, std::tuple>) return kind::tuple;
  else if constexpr (is_duration<T>::value) return kind::duration;
  else if constexpr (is_time_point<T>::value) return kind::time_point;
  else if constexpr (is_spec_v<T, std::unique_ptr>) return kind::unique_ptr;
  else if constexpr (is_spec_v<T, std::shared_ptr>) return kind::shared_ptr;
  else if constexpr (is_spec_v<T, std::weak_ptr>) return kind::weak_ptr;
  else if constexpr (std::is_pointer_v<T>) return kind::raw_ptr;
  else if constexpr (is_spec_v<T, std::vector> || is_spec_v<T, std::deque> || is_spec_v<T, std::list>) return kind::sequence;
  else if constexpr (is_std_array<T>::value) return kind::array;
  else if constexpr (is_spec_v<T, std::set> || is_spec_v<T, std::multiset> || is_spec_v<T, std::unordered_set> ||
                     is_spec_v<T, std::unordered_multiset>) return kind::set;
  else if constexpr (is_spec_v<T, std::map> || is_spec_v<T, std::multimap> || is_spec_v<T, std::unordered_map> ||
                     is_spec_v<T, std::unordered_multimap>) return kind::map;
  else if constexpr (reflected<T>) return kind::structure;
  else if constexpr (has_member_serialize<T> || has_free_serialize<T> || use_boost_serialization<T>::value)
    return kind::boost_serializable;
  else return kind::unsupported;
}

constexpr bool is_scalar_kind(kind k) {
  return k == kind::boolean || k == kind::integer || k == kind::floating || k == kind::described_enum ||
         k == kind::plain_enum || k == kind::string;
}

template <class T>
constexpr bool is_unordered_v = is_spec_v<T, std::unordered_set> || is_spec_v<T, std::unordered_multiset> ||
                                is_spec_v<T, std::unordered_map> || is_spec_v<T, std::unordered_multimap>;
template <class T>
constexpr bool is_multi_v = is_spec_v<T, std::multiset> || is_spec_v<T, std::unordered_multiset> ||
                            is_spec_v<T, std::multimap> || is_spec_v<T, std::unordered_multimap>;

template <class T>
using pointee_t = std::remove_cv_t<std::remove_pointer_t<T>>;
template <class P>
using smart_pointee_t = std::remove_cv_t<typename P::element_type>;

template <class T>
std::string type_display_name() {
  if constexpr (reflected<T>) return std::string(meta<T>::name);
  else return boost::core::demangle(typeid(T).name());
}

// The element name an object of type T has at the top level of a document (root or pool).
template <class T>
constexpr std::string_view top_tag() {
  if constexpr (reflected<T>) return meta<T>::name;
  else return "xg:value";
}

inline constexpr std::array<std::string_view, 32> alt_tags = {
    "alt0",  "alt1",  "alt2",  "alt3",  "alt4",  "alt5",  "alt6",  "alt7",  "alt8",  "alt9",  "alt10",
    "alt11", "alt12", "alt13", "alt14", "alt15", "alt16", "alt17", "alt18", "alt19", "alt20", "alt21",
    "alt22", "alt23", "alt24", "alt25", "alt26", "alt27", "alt28", "alt29", "alt30", "alt31"};
inline constexpr std::array<std::string_view, 16> tuple_tags = {"e0", "e1", "e2",  "e3",  "e4",  "e5",  "e6",  "e7",
                                                                "e8", "e9", "e10", "e11", "e12", "e13", "e14", "e15"};

// ---- compile-time: can a value of T reach a raw pointer? (decides the pre-pass) -------
template <class T, class... Seen>
constexpr bool reaches_raw();

template <class T, class... Seen>
constexpr bool struct_reaches_raw() {
  if constexpr ((std::is_same_v<T, Seen> || ...)) {
    return false;
  } else {
    bool r = false;
    for_each_field<T>([&](auto f) {
      using M = typename decltype(f)::member_type;
      r = r || reaches_raw<M, T, Seen...>();
    });
    return r;
  }
}

template <class... Ts, class... Seen>
constexpr bool any_reaches_raw(type_list<Ts...>, type_list<Seen...>) {
  return (reaches_raw<Ts, Seen...>() || ...);
}

template <class T, class... Seen>
constexpr bool reaches_raw() {
  constexpr kind k = kind_of<T>();
  if constexpr (k == kind::raw_ptr) return true;
  else if constexpr (k == kind::boost_serializable) return true;
  else if constexpr (k == kind::unique_ptr || k == kind::shared_ptr || k == kind::weak_ptr) {
    using P = smart_pointee_t<T>;
    if constexpr (std::is_polymorphic_v<P>) return true;  // the dynamic type is known only at run time
    else return reaches_raw<P, Seen...>();
  } else if constexpr (k == kind::restricted || k == kind::optional) return reaches_raw<typename T::value_type, Seen...>();
  else if constexpr (k == kind::sequence || k == kind::array || k == kind::set) return reaches_raw<typename T::value_type, Seen...>();
  else if constexpr (k == kind::map) return reaches_raw<typename T::key_type, Seen...>() || reaches_raw<typename T::mapped_type, Seen...>();
  else if constexpr (k == kind::pair) return reaches_raw<typename T::first_type, Seen...>() || reaches_raw<typename T::second_type, Seen...>();
  else if constexpr (k == kind::variant || k == kind::tuple) {
    return []<template <class...> class Tmpl, class... As>(std::type_identity<Tmpl<As...>>) {
      return any_reaches_raw(type_list<As...>{}, type_list<Seen...>{});
    }(std::type_identity<T>{});
  } else if constexpr (k == kind::structure) return struct_reaches_raw<T, Seen...>();
  else return false;
}

}  // namespace xgate::detail
