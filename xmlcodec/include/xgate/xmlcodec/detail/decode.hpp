// Decoding: a value of each kind (value_kinds.hpp) read from the parsed document through the
// decoder, and the whole document.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeindex>
#include <utility>
#include <variant>
#include <vector>

#include <xgate/xmlcodec/detail/decoder.hpp>
#include <xgate/xmlcodec/detail/type_entry.hpp>
#include <xgate/xmlcodec/detail/value_kinds.hpp>
#include <xgate/xmlcodec/error.hpp>

namespace xgate::detail {

template <class T>
void decode_value(decoder& d, xnode n, T& v);

// Boost.Serialization adapter (defined in boost_archive.hpp).
template <class T>
void boost_decode(decoder& d, xnode n, T& v);

template <class T>
void decode_erased(decoder& d, xnode n, void* p) {
  decode_value(d, n, *static_cast<T*>(p));
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

// ---- the document ------------------------------------------------------------------------
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

}  // namespace xgate::detail
