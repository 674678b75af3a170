// How each kind of C++ value becomes XML and back. One classification (kind_of) drives the
// encoder, the decoder, the raw-pointer pre-pass and the schema generator.
#pragma once

#include <algorithm>
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
#include <typeindex>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include <boost/core/demangle.hpp>

#include <xgate/reflect/reflect.hpp>
#include <xgate/xmlcodec/decoder.hpp>
#include <xgate/xmlcodec/encoder.hpp>
#include <xgate/xmlcodec/registry.hpp>
#include <xgate/xmlcodec/rights.hpp>

namespace xgate {

// Opt in types whose existing Boost.Serialization `serialize` should be used. Detected by
// itself for a member serialize(Archive&, unsigned) and for a free serialize(Archive&, T&,
// unsigned) in T's namespace; specialize this for free functions in boost::serialization.
template <class T>
struct use_boost_serialization : std::false_type {};

namespace detail {

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

// ---- the pre-pass: which objects do raw pointers aim at --------------------------------
class collector {
 public:
  std::unordered_set<object_key, object_key_hash> targets;
  // Shared objects are visited from a queue, not by recursion (graphs can be long chains).
  bool visit(const object_key& k, void (*fn)(collector&, const void*)) {
    if (!visited_.insert(k).second) return false;
    queue_.push_back({k.address, fn});
    return true;
  }
  void drain() {
    while (!queue_.empty()) {
      auto [p, fn] = queue_.back();
      queue_.pop_back();
      fn(*this, p);
    }
  }

 private:
  std::unordered_set<object_key, object_key_hash> visited_;
  std::vector<std::pair<const void*, void (*)(collector&, const void*)>> queue_;
};

template <class T>
object_key key_of(const T* p) {
  if constexpr (std::is_polymorphic_v<T>) return {dynamic_cast<const void*>(p), std::type_index(typeid(*p))};
  else return {static_cast<const void*>(p), std::type_index(typeid(T))};
}

// The registry entry of an object's dynamic type; encode_error naming `context` if none.
const type_entry& registered_dynamic(const std::type_info& dynamic_type, std::string_view context);

template <class T>
void encode_value(encoder& e, std::string_view tag, const T& v);
template <class T>
void decode_value(decoder& d, xnode n, T& v);
template <class T>
void collect_value(collector& c, const T& v);

template <class T>
void encode_erased(encoder& e, std::string_view tag, const void* p) {
  encode_value(e, tag, *static_cast<const T*>(p));
}
template <class T>
void decode_erased(decoder& d, xnode n, void* p) {
  decode_value(d, n, *static_cast<T*>(p));
}
template <class T>
void collect_erased(collector& c, const void* p) {
  collect_value(c, *static_cast<const T*>(p));
}
template <class T>
void reset_erased(void* p) {
  if constexpr (std::is_move_assignable_v<T> && std::is_default_constructible_v<T>) *static_cast<T*>(p) = T{};
}
template <class T>
std::shared_ptr<void> make_shared_erased() {
  return std::make_shared<T>();
}
template <class T>
void assign_raw(void* slot, void* value) {
  *static_cast<T**>(slot) = static_cast<T*>(value);
}

// Boost.Serialization adapter (defined in boost_compat.hpp).
template <class T>
void boost_encode(encoder& e, std::string_view tag, const T& v);
template <class T>
void boost_decode(decoder& d, xnode n, T& v);
template <class T>
void boost_collect(collector& c, const T& v);

// ---- numbers -------------------------------------------------------------------------
void parse_integer(const decoder& d, xnode n, std::string_view text, long long& out, long long min, long long max);
void parse_unsigned(const decoder& d, xnode n, std::string_view text, unsigned long long& out, unsigned long long max);
void parse_floating(const decoder& d, xnode n, std::string_view text, double& out);
void parse_floating(const decoder& d, xnode n, std::string_view text, float& out);
bool parse_bool(const decoder& d, xnode n, std::string_view text);

template <class I>
I decode_integer(decoder& d, xnode n, std::string_view text) {
  if constexpr (std::is_signed_v<I>) {
    long long v;
    parse_integer(d, n, text, v, std::numeric_limits<I>::min(), std::numeric_limits<I>::max());
    return static_cast<I>(v);
  } else {
    unsigned long long v;
    parse_unsigned(d, n, text, v, std::numeric_limits<I>::max());
    return static_cast<I>(v);
  }
}

template <class T>
void decode_number(decoder& d, xnode n, T& v) {
  std::string_view text = d.scalar_text(n);
  if constexpr (std::is_floating_point_v<T>) {
    if constexpr (std::is_same_v<T, float>) parse_floating(d, n, text, v);
    else {
      double x;
      parse_floating(d, n, text, x);
      v = static_cast<T>(x);
    }
  } else {
    v = decode_integer<T>(d, n, text);
  }
}

template <class T>
void encode_number(encoder& e, T v) {
  if constexpr (std::is_floating_point_v<T>) {
    if constexpr (std::is_same_v<T, float>) e.number(v);
    else e.number(static_cast<double>(v));
  } else if constexpr (sizeof(T) == 1) {
    e.integer(static_cast<int>(v));
  } else {
    e.integer(v);
  }
}

// ---- structures ------------------------------------------------------------------------
template <class T>
constexpr auto field_names() {
  std::array<std::string_view, field_count_v<T>> names{};
  std::size_t i = 0;
  for_each_field<T>([&](auto f) { names[i++] = f.name; });
  return names;
}

// Optional user hook, found by argument-dependent lookup:
//   void xgate_upgrade(T& value, unsigned from_version);
template <class T>
concept has_upgrade_hook = requires(T& t, unsigned v) { xgate_upgrade(t, v); };

template <class T>
void encode_struct(encoder& e, std::string_view tag, const T& v) {
  e.open(tag);
  if (std::uint32_t id = e.object_id(&v, typeid(T))) e.attr_id("xg:id", id);
  if constexpr (meta<T>::version != 1) e.attr_uint("xg:v", meta<T>::version);
  if constexpr (field_count_v<T> == 0) {
    e.empty();
  } else {
    e.begin_children();
    for_each_field<T>([&](auto f) { encode_value(e, f.name, v.*(f.pointer)); });
    e.end_children(tag);
  }
}

// Names are short: comparing inline beats a call to memcmp per element.
inline bool name_is(xnode n, std::string_view name) noexcept {
  std::string_view v = n.name();
  if (v.size() != name.size()) return false;
  for (std::size_t i = 0; i < v.size(); ++i)
    if (v[i] != name[i]) return false;
  return true;
}

template <class T>
void decode_struct(decoder& d, xnode n, T& v) {
  unsigned version = 1;
  if (n.has_attributes()) {
    version = d.version_of(n, meta<T>::name, meta<T>::version);
    if (n.has_attribute("xg:id")) d.register_inline(n, &v, typeid(T));
  }
  static constexpr auto names = field_names<T>();
  xnode cur = d.first_element(n);
  std::size_t index = 0;
  for_each_field<T>([&](auto f) {
    xnode c;
    if (cur && name_is(cur, f.name)) {
      c = cur;
      cur = d.next_element(cur);
    } else if (!d.strict()) {
      for (xnode k = d.first_element(n); k; k = d.next_element(k))
        if (name_is(k, f.name)) { c = k; break; }
    } else {
      // Strict: the element at the cursor is not this field. Say precisely why.
      if (cur) {
        auto pos = std::find(names.begin(), names.end(), cur.name());
        if (pos == names.end())
          d.fail(errc::unknown_field, cur, "unknown field <" + std::string(cur.name()) + "> in " + std::string(meta<T>::name));
        if (static_cast<std::size_t>(pos - names.begin()) < index)
          d.fail(errc::unexpected_content, cur, "field <" + std::string(cur.name()) + "> repeated or out of order in " + std::string(meta<T>::name));
      }
      if (version == meta<T>::version)
        d.fail(errc::missing_field, n, "missing field <" + std::string(f.name) + "> of " + std::string(meta<T>::name));
    }
    if (c) decode_value(d, c, v.*(f.pointer));
    ++index;
  });
  if (cur && d.strict()) {
    if (std::find(names.begin(), names.end(), cur.name()) == names.end())
      d.fail(errc::unknown_field, cur, "unknown field <" + std::string(cur.name()) + "> in " + std::string(meta<T>::name));
    d.fail(errc::unexpected_content, cur, "field <" + std::string(cur.name()) + "> repeated or out of order in " + std::string(meta<T>::name));
  }
  if constexpr (has_upgrade_hook<T>) {
    if (version < meta<T>::version) xgate_upgrade(v, version);
  }
}

// ---- containers -----------------------------------------------------------------------
template <class C>
std::vector<const typename C::value_type*> sorted_elements(const C& c) {
  std::vector<const typename C::value_type*> items;
  items.reserve(c.size());
  for (const auto& x : c) items.push_back(&x);
  if constexpr (kind_of<C>() == kind::map && !is_multi_v<C>)
    std::sort(items.begin(), items.end(), [](auto* a, auto* b) { return std::less<>{}(a->first, b->first); });
  else  // sets, and multimaps whose equal keys must be ordered by value too
    std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return std::less<>{}(*a, *b); });
  return items;
}

template <class K, class V>
void encode_map_item(encoder& e, const std::pair<const K, V>& kv) {
  e.open("item");
  e.begin_children();
  encode_value(e, "key", kv.first);
  encode_value(e, "value", kv.second);
  e.end_children("item");
}

template <class C>
void encode_container(encoder& e, std::string_view tag, const C& c) {
  if (c.empty()) {
    e.open(tag);
    e.empty();
    return;
  }
  e.open(tag);
  e.begin_children();
  auto one = [&](const auto& x) {
    if constexpr (kind_of<C>() == kind::map) encode_map_item(e, x);
    else encode_value(e, "item", static_cast<const typename C::value_type&>(x));
  };
  if constexpr (is_unordered_v<C>) {
    // Canonical output: hash order is not stable across processes, key order is.
    for (const auto* x : sorted_elements(c)) one(*x);
  } else {
    for (const auto& x : c) one(x);
  }
  e.end_children(tag);
}

std::size_t count_items(decoder& d, xnode n);
[[noreturn]] void not_an_item(const decoder& d, xnode n);

template <class C>
void decode_container(decoder& d, xnode n, C& c) {
  constexpr kind k = kind_of<C>();
  if constexpr (k == kind::array) {
    std::size_t count = count_items(d, n);
    if (count != c.size())
      d.fail(errc::bad_value, n, "expected " + std::to_string(c.size()) + " items, found " + std::to_string(count));
    std::size_t i = 0;
    for (xnode x = d.first_element(n); x; x = d.next_element(x)) {
      if (!name_is(x, "item")) not_an_item(d, x);
      decode_value(d, x, c[i++]);
    }
  } else if constexpr (k == kind::sequence && is_spec_v<C, std::vector> && !std::is_same_v<C, std::vector<bool>> &&
                       is_scalar_kind(kind_of<typename C::value_type>())) {
    // Scalars can never be the target of a raw pointer, so the vector may grow (and move
    // its elements) while it fills: no counting pass.
    c.clear();
    for (xnode x = d.first_element(n); x; x = d.next_element(x)) {
      if (!name_is(x, "item")) not_an_item(d, x);
      decode_value(d, x, c.emplace_back());
    }
  } else if constexpr (k == kind::sequence) {
    std::size_t count = count_items(d, n);
    c.clear();
    c.resize(count);
    auto it = c.begin();
    for (xnode x = d.first_element(n); x; x = d.next_element(x), ++it) {
      if (!name_is(x, "item")) not_an_item(d, x);
      if constexpr (std::is_same_v<C, std::vector<bool>>) {
        bool b = false;
        decode_value(d, x, b);
        *it = b;
      } else {
        decode_value(d, x, *it);
      }
    }
  } else if constexpr (k == kind::set) {
    c.clear();
    for (xnode x = d.first_element(n); x; x = d.next_element(x)) {
      if (!name_is(x, "item")) not_an_item(d, x);
      typename C::value_type tmp{};
      std::size_t im = d.inline_mark(), fm = d.fixup_mark();
      decode_value(d, x, tmp);
      const void* from = &tmp;
      if constexpr (is_multi_v<C>) {
        auto it = c.insert(std::move(tmp));
        d.relocate(im, fm, from, sizeof tmp, const_cast<void*>(static_cast<const void*>(&*it)));
      } else {
        auto [it, inserted] = c.insert(std::move(tmp));
        if (!inserted) d.fail(errc::duplicate_key, x, "the same element twice in a set");
        d.relocate(im, fm, from, sizeof tmp, const_cast<void*>(static_cast<const void*>(&*it)));
      }
    }
  } else if constexpr (k == kind::map) {
    c.clear();
    for (xnode x = d.first_element(n); x; x = d.next_element(x)) {
      if (!name_is(x, "item")) not_an_item(d, x);
      xnode kn = d.first_element(x);
      xnode vn = kn ? d.next_element(kn) : xnode{};
      if (!kn || !name_is(kn, "key") || !vn || !name_is(vn, "value") || d.next_element(vn))
        d.fail(errc::unexpected_content, x, "a map item holds exactly <key> then <value>");
      typename C::key_type key{};
      std::size_t im = d.inline_mark(), fm = d.fixup_mark();
      decode_value(d, kn, key);
      const void* from = &key;
      typename C::iterator it;
      if constexpr (is_multi_v<C>) {
        it = c.emplace(std::move(key), typename C::mapped_type{});
      } else {
        bool inserted;
        std::tie(it, inserted) = c.try_emplace(std::move(key));
        if (!inserted) d.fail(errc::duplicate_key, kn, "the same key twice in a map");
      }
      d.relocate(im, fm, from, sizeof key, const_cast<void*>(static_cast<const void*>(&it->first)));
      decode_value(d, vn, it->second);
    }
  }
}

// ---- variants and tuples -----------------------------------------------------------------
template <class V, std::size_t... I>
void emplace_and_decode(decoder& d, xnode n, V& v, std::size_t index, std::index_sequence<I...>) {
  (void)((index == I ? (decode_value(d, n, v.template emplace<I>()), true) : false) || ...);
}

template <class Tup, std::size_t... I>
void decode_tuple_elements(decoder& d, xnode n, Tup& t, std::index_sequence<I...>) {
  xnode cur = d.first_element(n);
  auto one = [&](auto& elem, std::size_t i) {
    if (!cur || !name_is(cur, tuple_tags[i]))
      d.fail(errc::unexpected_content, cur ? cur : n, "expected <" + std::string(tuple_tags[i]) + ">");
    decode_value(d, cur, elem);
    cur = d.next_element(cur);
  };
  (one(std::get<I>(t), I), ...);
  if (cur) d.fail(errc::unexpected_content, cur, "unexpected element <" + std::string(cur.name()) + ">");
}

// ---- the dispatch --------------------------------------------------------------------------
template <class T>
void encode_value(encoder& e, std::string_view tag, const T& v) {
  constexpr kind k = kind_of<T>();
  static_assert(k != kind::unsupported,
                "xgate: this type is not described. Add XGATE_TYPE/XGATE_REFLECT for structs, XGATE_ENUM for enums.");
  if constexpr (k == kind::structure) {
    encode_struct(e, tag, v);
  } else if constexpr (k == kind::monostate) {
    e.open(tag);
    e.empty();
  } else if constexpr (k == kind::boolean) {
    e.open_text(tag);
    e.raw(v ? "true" : "false");
    e.end_text(tag);
  } else if constexpr (k == kind::integer || k == kind::floating) {
    e.open_text(tag);
    encode_number(e, v);
    e.end_text(tag);
  } else if constexpr (k == kind::described_enum || k == kind::plain_enum) {
    e.open_text(tag);
    std::string_view name;
    if constexpr (k == kind::described_enum) name = enum_to_name(v);
    if (!name.empty()) e.raw(name);
    else encode_number(e, static_cast<std::underlying_type_t<T>>(v));
    e.end_text(tag);
  } else if constexpr (k == kind::string) {
    if (v.empty()) {
      e.open(tag);
      return e.empty();
    }
    e.open_text(tag);
    e.text(v);
    e.end_text(tag);
  } else if constexpr (k == kind::bytes) {
    e.open(tag);
    if (v.empty()) return e.empty();
    e.begin_text();
    e.base64(v.data(), v.size());
    e.end_text(tag);
  } else if constexpr (k == kind::optional) {
    if (!v) {
      e.open(tag);
      return e.nil();
    }
    encode_value(e, tag, *v);
  } else if constexpr (k == kind::restricted) {
    if (v.withheld()) throw encode_error("cannot encode <" + std::string(tag) + ">: its value was withheld from the decoding principal");
    e.set_pending_rights(&v.overrides());
    if (!v.storage()) {
      e.open(tag);
      return e.nil();
    }
    encode_value(e, tag, *v.storage());
  } else if constexpr (k == kind::variant) {
    static_assert(std::variant_size_v<T> <= alt_tags.size(), "xgate: at most 32 variant alternatives");
    if (v.valueless_by_exception()) throw encode_error("cannot encode <" + std::string(tag) + ">: variant is valueless");
    e.open(tag);
    e.begin_children();
    std::visit([&](const auto& alt) { encode_value(e, alt_tags[v.index()], alt); }, v);
    e.end_children(tag);
  } else if constexpr (k == kind::pair) {
    e.open(tag);
    e.begin_children();
    encode_value(e, "first", v.first);
    encode_value(e, "second", v.second);
    e.end_children(tag);
  } else if constexpr (k == kind::tuple) {
    static_assert(std::tuple_size_v<T> <= tuple_tags.size(), "xgate: at most 16 tuple elements");
    e.open(tag);
    if constexpr (std::tuple_size_v<T> == 0) {
      e.empty();
    } else {
      e.begin_children();
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        (encode_value(e, tuple_tags[I], std::get<I>(v)), ...);
      }(std::make_index_sequence<std::tuple_size_v<T>>{});
      e.end_children(tag);
    }
  } else if constexpr (k == kind::duration) {
    encode_value(e, tag, v.count());
  } else if constexpr (k == kind::time_point) {
    encode_value(e, tag, v.time_since_epoch().count());
  } else if constexpr (k == kind::unique_ptr) {
    using P = smart_pointee_t<T>;
    if (!v) {
      e.open(tag);
      return e.nil();
    }
    if constexpr (std::is_polymorphic_v<P>) {
      const type_entry& te = registered_dynamic(typeid(*v), tag);
      e.open(tag);
      e.begin_children();
      te.encode(e, te.name, dynamic_cast<const void*>(v.get()));
      e.end_children(tag);
    } else {
      encode_value(e, tag, *v);
    }
  } else if constexpr (k == kind::shared_ptr || k == kind::weak_ptr) {
    using P = smart_pointee_t<T>;
    const P* p;
    std::shared_ptr<const P> locked;  // a weak_ptr's target must stay alive while we look
    if constexpr (k == kind::weak_ptr) p = (locked = v.lock()).get();
    else p = v.get();  // no copy: two atomic operations per reference saved
    e.open(tag);
    if (!p) return e.nil();
    std::uint32_t id;
    if constexpr (std::is_polymorphic_v<P>) {
      const type_entry& te = registered_dynamic(typeid(*p), tag);
      id = e.ref_shared(dynamic_cast<const void*>(p), te.type, te.encode, te.name, k == kind::shared_ptr);
    } else {
      id = e.ref_shared(p, typeid(P), &encode_erased<P>, top_tag<P>(), k == kind::shared_ptr);
    }
    e.attr_id("xg:ref", id);
    e.empty();
  } else if constexpr (k == kind::raw_ptr) {
    using P = pointee_t<T>;
    static_assert(reflected<P>, "xgate: raw pointers must point to described (XGATE_TYPE) objects");
    e.open(tag);
    if (!v) return e.nil();
    auto key = key_of<P>(v);
    e.attr_id("xg:ref", e.ref_raw(key.address, key.type));
    e.empty();
  } else if constexpr (k == kind::sequence || k == kind::array || k == kind::set || k == kind::map) {
    encode_container(e, tag, v);
  } else if constexpr (k == kind::boost_serializable) {
    boost_encode(e, tag, v);
  }
}

template <class T>
void decode_value(decoder& d, xnode n, T& v) {
  constexpr kind k = kind_of<T>();
  static_assert(k != kind::unsupported,
                "xgate: this type is not described. Add XGATE_TYPE/XGATE_REFLECT for structs, XGATE_ENUM for enums.");
  if constexpr (k == kind::structure) {
    decode_struct(d, n, v);
  } else if constexpr (k == kind::monostate) {
    if (xnode c = d.first_element(n)) d.fail(errc::unexpected_content, c, "an empty alternative holds nothing");
  } else if constexpr (k == kind::boolean) {
    v = parse_bool(d, n, d.scalar_text(n));
  } else if constexpr (k == kind::integer || k == kind::floating) {
    decode_number(d, n, v);
  } else if constexpr (k == kind::described_enum || k == kind::plain_enum) {
    std::string_view text = d.scalar_text(n);
    if constexpr (k == kind::described_enum) {
      if (enum_from_name(text, v)) return;
      if (text.empty() || !(text[0] == '-' || (text[0] >= '0' && text[0] <= '9')))
        d.fail(errc::bad_value, n, "unknown enumerator \"" + std::string(text) + "\" for " + type_display_name<T>());
    }
    v = static_cast<T>(decode_integer<std::underlying_type_t<T>>(d, n, text));
  } else if constexpr (k == kind::string) {
    d.read_string(n, v);
  } else if constexpr (k == kind::bytes) {
    if constexpr (std::is_same_v<T, std::vector<unsigned char>>) {
      d.read_base64(n, v);
    } else {
      std::vector<unsigned char> raw;
      d.read_base64(n, raw);
      v.resize(raw.size());
      if (!raw.empty()) std::memcpy(v.data(), raw.data(), raw.size());
    }
  } else if constexpr (k == kind::optional) {
    if (n.has_attributes() && d.is_nil(n)) return v.reset();
    decode_value(d, n, v.emplace());
  } else if constexpr (k == kind::restricted) {
    auto [readable, writable] = d.object_access(n);
    v.overrides() = d.read_overrides(n);
    if (!readable || !writable) v.set_access(!readable, writable, d.principal_name(), d.location_of(n));
    else v.set_access(false, true, {}, {});
    if (!readable) return v.storage().reset();
    if (d.is_nil(n)) return v.storage().reset();
    decode_value(d, n, v.storage().emplace());
  } else if constexpr (k == kind::variant) {
    xnode c = d.first_element(n);
    if (!c || d.next_element(c)) d.fail(errc::unexpected_content, n, "a variant holds exactly one <altN> element");
    std::string_view name = c.name();
    std::size_t index = 0;
    bool ok = name.size() > 3 && name.substr(0, 3) == "alt" && name.size() <= 5;
    for (char ch : name.substr(ok ? 3 : 0)) ok = ok && ch >= '0' && ch <= '9', index = index * 10 + static_cast<std::size_t>(ch - '0');
    if (!ok || index >= std::variant_size_v<T> || (name.size() > 4 && name[3] == '0'))
      d.fail(errc::bad_value, c, "<" + std::string(name) + "> is not an alternative of this variant (alt0..alt" + std::to_string(std::variant_size_v<T> - 1) + ")");
    emplace_and_decode(d, c, v, index, std::make_index_sequence<std::variant_size_v<T>>{});
  } else if constexpr (k == kind::pair) {
    xnode a = d.first_element(n);
    xnode b = a ? d.next_element(a) : xnode{};
    if (!a || !name_is(a, "first") || !b || !name_is(b, "second") || d.next_element(b))
      d.fail(errc::unexpected_content, n, "a pair holds exactly <first> then <second>");
    decode_value(d, a, v.first);
    decode_value(d, b, v.second);
  } else if constexpr (k == kind::tuple) {
    decode_tuple_elements(d, n, v, std::make_index_sequence<std::tuple_size_v<T>>{});
  } else if constexpr (k == kind::duration) {
    typename T::rep r{};
    decode_value(d, n, r);
    v = T(r);
  } else if constexpr (k == kind::time_point) {
    typename T::duration::rep r{};
    decode_value(d, n, r);
    v = T(typename T::duration(r));
  } else if constexpr (k == kind::unique_ptr) {
    using P = smart_pointee_t<T>;
    static_assert(std::is_same_v<T, std::unique_ptr<typename T::element_type>>, "xgate: unique_ptr with a custom deleter");
    if (d.is_nil(n)) return v.reset();
    if constexpr (std::is_polymorphic_v<P>) {
      static_assert(std::has_virtual_destructor_v<P>, "xgate: a polymorphic type held by unique_ptr needs a virtual destructor");
        xnode c = d.first_element(n);
      if (!c || d.next_element(c)) d.fail(errc::unexpected_content, n, "a polymorphic object holds exactly one element named by its type");
      const type_entry& te = d.registered(c, c.name());
      void* raw = te.create_raw();
      void* base = decoder::cast(raw, te.type, typeid(P));
      if (!base) {
        te.destroy_raw(raw);
        d.fail(errc::wrong_ref_type, c, std::string(te.name) + " is not a " + type_display_name<P>());
      }
      v.reset(static_cast<P*>(base));
      te.decode(d, c, raw);
    } else {
      if (!v) v = std::make_unique<P>();
      decode_value(d, n, *v);
    }
  } else if constexpr (k == kind::shared_ptr || k == kind::weak_ptr) {
    using P = smart_pointee_t<T>;
    if (d.is_nil(n)) return v.reset();
    decoder::ref_request req{typeid(P), top_tag<P>(), std::is_polymorphic_v<P>, nullptr, nullptr, nullptr, k == kind::shared_ptr};
    if constexpr (!std::is_abstract_v<P> && std::is_default_constructible_v<P>) {
      req.create = &make_shared_erased<P>;
      req.fill = &decode_erased<P>;
      req.reset = &reset_erased<P>;
    }
    auto [holder, address] = d.resolve_shared(n, req);
    v = std::shared_ptr<typename T::element_type>(std::move(holder), static_cast<P*>(address));
  } else if constexpr (k == kind::raw_ptr) {
    using P = pointee_t<T>;
    if (d.is_nil(n)) {
      v = nullptr;
      return;
    }
    d.add_fixup(n, &v, typeid(P), &assign_raw<std::remove_pointer_t<T>>);
  } else if constexpr (k == kind::sequence || k == kind::array || k == kind::set || k == kind::map) {
    decode_container(d, n, v);
  } else if constexpr (k == kind::boost_serializable) {
    boost_decode(d, n, v);
  }
}

template <class T>
void collect_value(collector& c, const T& v) {
  constexpr kind k = kind_of<T>();
  if constexpr (!reaches_raw<T>()) {
    return;
  } else if constexpr (k == kind::structure) {
    for_each_field<T>([&](auto f) {
      using M = typename decltype(f)::member_type;
      if constexpr (reaches_raw<M>()) collect_value(c, v.*(f.pointer));
    });
  } else if constexpr (k == kind::raw_ptr) {
    if (v) c.targets.insert(key_of<pointee_t<T>>(v));
  } else if constexpr (k == kind::unique_ptr) {
    using P = smart_pointee_t<T>;
    if (!v) return;
    if constexpr (std::is_polymorphic_v<P>) {
      // Unregistered types are reported by the encoder, which knows the element's name.
      if (const type_entry* te = registry::instance().find(typeid(*v))) te->collect(c, dynamic_cast<const void*>(v.get()));
    } else {
      collect_value(c, *v);
    }
  } else if constexpr (k == kind::shared_ptr || k == kind::weak_ptr) {
    using P = smart_pointee_t<T>;
    std::shared_ptr<const P> p;
    if constexpr (k == kind::weak_ptr) p = v.lock();
    else p = v;
    if (!p) return;
    if constexpr (std::is_polymorphic_v<P>) {
      if (const type_entry* te = registry::instance().find(typeid(*p))) c.visit(key_of<P>(p.get()), te->collect);
    } else {
      c.visit(key_of<P>(p.get()), &collect_erased<P>);
    }
  } else if constexpr (k == kind::optional) {
    if (v) collect_value(c, *v);
  } else if constexpr (k == kind::restricted) {
    if (v.storage()) collect_value(c, *v.storage());
  } else if constexpr (k == kind::variant) {
    std::visit([&](const auto& alt) { collect_value(c, alt); }, v);
  } else if constexpr (k == kind::pair) {
    collect_value(c, v.first);
    collect_value(c, v.second);
  } else if constexpr (k == kind::tuple) {
    std::apply([&](const auto&... x) { (collect_value(c, x), ...); }, v);
  } else if constexpr (k == kind::map) {
    for (const auto& [key, value] : v) {
      collect_value(c, key);
      collect_value(c, value);
    }
  } else if constexpr (k == kind::sequence || k == kind::array || k == kind::set) {
    for (const auto& x : v) collect_value(c, static_cast<const typename T::value_type&>(x));
  } else if constexpr (k == kind::boost_serializable) {
    boost_collect(c, v);
  }
}

// ---- registration -------------------------------------------------------------------------
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

template <class T>
std::string recode_erased(std::string_view xml, const decode_options& dopt, const encode_options& eopt);
template <class T>
void schema_erased(schema_builder& b);

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
  auto_register() { registry::instance().add(make_type_entry<T>()); }
};

}  // namespace detail
}  // namespace xgate

#define XGATE_DETAIL_REG_NAME2(a, b) a##b
#define XGATE_DETAIL_REG_NAME(a, b) XGATE_DETAIL_REG_NAME2(a, b)

// Registers a described type under its name, so it can be decoded from a name in a
// document (polymorphic pointers) and found by tools. Put it at namespace scope once.
#define XGATE_REGISTER(T) \
  [[maybe_unused]] static const ::xgate::detail::auto_register<T> XGATE_DETAIL_REG_NAME(xgate_registration_, __COUNTER__) {}
