// Describe a type once; everything else (XML codec, schema, registry) is derived from it.
//
//   struct Order { int number; std::vector<Line> lines; };
//   XGATE_TYPE(Order, "shop.Order", 2, (), (number, lines))      // name, version, bases, fields
//   XGATE_REFLECT(Point, x, y)                                    // name "Point", version 1, no bases
//   XGATE_ENUM(Color, red, green, blue)                           // values travel by name
//
// The macros go at namespace scope, in the namespace of the type (they are found by
// argument-dependent lookup). Private fields are allowed when the class declares
// XGATE_FRIEND(Type) in its body.
#pragma once

#include <boost/describe/enum.hpp>
#include <boost/describe/enumerators.hpp>
#include <boost/mp11/algorithm.hpp>
#include <boost/preprocessor/cat.hpp>
#include <boost/preprocessor/punctuation/comma_if.hpp>
#include <boost/preprocessor/seq/for_each_i.hpp>
#include <boost/preprocessor/stringize.hpp>
#include <boost/preprocessor/variadic/to_seq.hpp>

#include <cstddef>
#include <string_view>
#include <tuple>
#include <type_traits>

namespace xgate {

template <class... Ts>
struct type_list {};

// One described field: its XML element name and the member pointer.
template <class Class, class Member>
struct field {
  std::string_view name;
  Member Class::*pointer;
  using class_type = Class;
  using member_type = Member;
};
// Spelled out for compilers without C++20 aggregate deduction (clang 14).
template <class Class, class Member>
field(std::string_view, Member Class::*) -> field<Class, Member>;

namespace detail {

constexpr bool is_xml_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
constexpr bool is_xml_name_char(char c) {
  return is_xml_name_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
}
// Registered names become XML element names, so they must be XML names without a prefix.
constexpr bool is_valid_type_name(std::string_view name) {
  if (name.empty() || !is_xml_name_start(name.front())) return false;
  if (name.size() >= 3 && (name[0] | 0x20) == 'x' && (name[1] | 0x20) == 'm' && (name[2] | 0x20) == 'l')
    return false;
  for (char c : name)
    if (!is_xml_name_char(c)) return false;
  return true;
}

template <class T>
constexpr auto meta_of() -> decltype(xgate_meta(static_cast<const T*>(nullptr))) {
  return {};
}

}  // namespace detail

// True when T itself (not merely a base of T) was described with XGATE_TYPE / XGATE_REFLECT.
template <class T>
concept reflected = requires {
  detail::meta_of<T>();
  requires std::is_same_v<typename decltype(detail::meta_of<T>())::type, T>;
};

template <reflected T>
using meta = decltype(detail::meta_of<T>());

// Enums described with XGATE_ENUM (or BOOST_DESCRIBE_ENUM directly).
template <class E>
concept described_enum = std::is_enum_v<E> && boost::describe::has_describe_enumerators<E>::value;

template <reflected T>
constexpr std::string_view type_name_v = meta<T>::name;

template <reflected T>
constexpr unsigned type_version_v = meta<T>::version;

namespace detail {
template <class F, class... Bases>
constexpr void for_each_base_field(type_list<Bases...>, F& fn);

template <class T, class F>
constexpr void for_each_field_impl(F& fn) {
  for_each_base_field(typename meta<T>::bases{}, fn);
  std::apply([&](const auto&... f) { (fn(f), ...); }, meta<T>::fields());
}

template <class F, class... Bases>
constexpr void for_each_base_field(type_list<Bases...>, F& fn) {
  (for_each_field_impl<Bases>(fn), ...);
}

template <class... Bases>
constexpr std::size_t base_field_count(type_list<Bases...>);

template <class T>
constexpr std::size_t field_count_impl() {
  return base_field_count(typename meta<T>::bases{}) + std::tuple_size_v<decltype(meta<T>::fields())>;
}
template <class... Bases>
constexpr std::size_t base_field_count(type_list<Bases...>) {
  return (std::size_t{0} + ... + field_count_impl<Bases>());
}
}  // namespace detail

// Calls fn(field) for every field of T: fields of its bases first (depth first, in the
// order the bases were listed), then its own, in declaration order of the macro.
template <reflected T, class F>
constexpr void for_each_field(F&& fn) {
  detail::for_each_field_impl<T>(fn);
}

template <reflected T>
constexpr std::size_t field_count_v = detail::field_count_impl<T>();

// Enum names: the enumerator's identifier, or nullptr-empty when the value has none.
template <described_enum E>
constexpr std::string_view enum_to_name(E value) noexcept {
  std::string_view result;
  boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>([&](auto d) {
    if (result.empty() && d.value == value) result = d.name;
  });
  return result;
}

template <described_enum E>
constexpr bool enum_from_name(std::string_view name, E& out) noexcept {
  bool found = false;
  boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>([&](auto d) {
    if (!found && name == d.name) {
      out = d.value;
      found = true;
    }
  });
  return found;
}

}  // namespace xgate

#define XGATE_DETAIL_UNPAREN(...) __VA_ARGS__
#define XGATE_DETAIL_CALL(m, args) m args
#define XGATE_DETAIL_FIELD(r, T, i, f) BOOST_PP_COMMA_IF(i)::xgate::field{std::string_view{BOOST_PP_STRINGIZE(f)}, &T::f}
#define XGATE_DETAIL_FIELDS(T, ...) \
  __VA_OPT__(BOOST_PP_SEQ_FOR_EACH_I(XGATE_DETAIL_FIELD, T, BOOST_PP_VARIADIC_TO_SEQ(__VA_ARGS__)))

// XGATE_TYPE(Type, "registered.name", version, (Base, ...), (field, ...))
#define XGATE_TYPE(T, NAME, VERSION, BASES, FIELDS)                                                    \
  struct xgate_meta_##T {                                                                              \
    using type = T;                                                                                    \
    static constexpr std::string_view name = NAME;                                                     \
    static constexpr unsigned version = VERSION;                                                       \
    static_assert(::xgate::detail::is_valid_type_name(name),                                           \
                  "xgate: the type name must be an XML name without ':' (letters, digits, '.', '_', '-')"); \
    static_assert(version >= 1, "xgate: type versions start at 1");                                    \
    using bases = ::xgate::type_list<XGATE_DETAIL_UNPAREN BASES>;                                      \
    static constexpr auto fields() {                                                                   \
      return std::make_tuple(XGATE_DETAIL_CALL(XGATE_DETAIL_FIELDS, (T, XGATE_DETAIL_UNPAREN FIELDS))); \
    }                                                                                                  \
  };                                                                                                   \
  [[maybe_unused]] constexpr xgate_meta_##T xgate_meta(const T*) { return {}; }

// XGATE_REFLECT(Type, field, ...): name is the spelling of Type, version 1, no bases.
#define XGATE_REFLECT(T, ...) XGATE_TYPE(T, BOOST_PP_STRINGIZE(T), 1, (), (__VA_ARGS__))

// Inside a class body: lets XGATE_TYPE / XGATE_REFLECT name private fields.
#define XGATE_FRIEND(T) friend struct xgate_meta_##T

// XGATE_ENUM(Enum, value, ...): enumerators travel by name (this is BOOST_DESCRIBE_ENUM).
#define XGATE_ENUM(E, ...) BOOST_DESCRIBE_ENUM(E, __VA_ARGS__)
