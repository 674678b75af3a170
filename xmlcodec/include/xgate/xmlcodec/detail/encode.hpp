// Encoding: a value of each kind (value_kinds.hpp) written through the encoder, the
// pre-pass that finds which objects raw pointers aim at, and the whole document.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeindex>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include <xgate/xmlcodec/detail/encoder.hpp>
#include <xgate/xmlcodec/detail/type_entry.hpp>
#include <xgate/xmlcodec/detail/value_kinds.hpp>
#include <xgate/xmlcodec/error.hpp>

namespace xgate::detail {

template <class T>
void encode_value(encoder& e, std::string_view tag, const T& v);
class collector;
template <class T>
void collect_value(collector& c, const T& v);

// Boost.Serialization adapter (defined in boost_archive.hpp).
template <class T>
void boost_encode(encoder& e, std::string_view tag, const T& v);
template <class T>
void boost_collect(collector& c, const T& v);

template <class T>
void encode_erased(encoder& e, std::string_view tag, const void* p) {
  encode_value(e, tag, *static_cast<const T*>(p));
}
template <class T>
void collect_erased(collector& c, const void* p) {
  collect_value(c, *static_cast<const T*>(p));
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
      if (const type_entry* te = find_entry(typeid(*v))) te->collect(c, dynamic_cast<const void*>(v.get()));
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
      if (const type_entry* te = find_entry(typeid(*p))) c.visit(key_of<P>(p.get()), te->collect);
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

// ---- the document ------------------------------------------------------------------------
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

// The whole document in memory: to_xml's string form, and the registry's sample and recode.
template <class T>
std::string encode_to_string(const T& value, const encode_options& options) {
  encoder e(options, nullptr);
  encode_document(e, value);
  return e.take_output();
}

}  // namespace xgate::detail
