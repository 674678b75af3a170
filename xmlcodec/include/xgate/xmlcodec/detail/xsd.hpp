// The XSD generator behind schema() (schema.hpp): struct types become named complex types;
// shared objects are allowed in the document's pool; polymorphic pointers list the
// registered types that can stand there.
#pragma once

#include <array>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include <xgate/xmlcodec/detail/type_entry.hpp>
#include <xgate/xmlcodec/detail/value_kinds.hpp>

namespace xgate::detail {

// Collects the named types one schema document defines, each once.
class schema_builder {
 public:
  // True the first time: the caller then defines the named type.
  bool want(const std::string& name) { return seen_.insert(name).second; }
  void define(std::string xsd) { defs_.push_back(std::move(xsd)); }
  void add_pool(std::string element, std::string type_ref) { pool_.emplace(std::move(element), std::move(type_ref)); }
  std::string fresh_name() { return "xg.t" + std::to_string(++counter_); }
  std::string finish(const std::string& root_element) const;

 private:
  std::set<std::string> seen_;
  std::vector<std::string> defs_;
  std::map<std::string, std::string> pool_;
  int counter_ = 0;
};

struct xsd_type {
  std::string ref;         // a QName, or empty when `inline_def` holds an anonymous type
  std::string inline_def;  // <xs:complexType>...</xs:complexType>
  bool simple = false;
  bool nillable = false;
};

std::string xsd_element(std::string_view name, const xsd_type& t, std::string_view extra = {});
std::string xsd_enum_name(std::string_view demangled);
std::string xsd_builtin(schema_builder& b, std::string_view which);  // "double", "float", "string", "ref"
std::string xsd_restricted(schema_builder& b, const xsd_type& t);

template <class T>
xsd_type xsd_of(schema_builder& b);

template <class T>
std::string xsd_element_of(schema_builder& b, std::string_view name, std::string_view extra = {}) {
  return xsd_element(name, xsd_of<T>(b), extra);
}

template <class... Ts>
std::string xsd_sequence_of(schema_builder& b, const std::array<std::string_view, sizeof...(Ts)>& names) {
  std::string s;
  std::size_t i = 0;
  ((s += xsd_element_of<Ts>(b, names[i++])), ...);
  return s;
}

template <class P>
void xsd_polymorphic_choices(schema_builder& b, std::string& out) {
  for (const type_entry* te : entries_derived_from(typeid(P))) {
    te->schema(b);
    out += "<xs:element name=\"" + std::string(te->name) + "\" type=\"xg:" + std::string(te->name) + "\"/>";
  }
}

template <class P>
void xsd_pool(schema_builder& b) {
  if constexpr (std::is_polymorphic_v<P>) {
    for (const type_entry* te : entries_derived_from(typeid(P))) {
      te->schema(b);
      b.add_pool(std::string(te->name), "xg:" + std::string(te->name));
    }
  } else {
    xsd_type t = xsd_of<P>(b);
    b.add_pool(std::string(top_tag<P>()), t.ref.empty() ? "xs:anyType" : t.ref);
  }
}

template <class T>
void define_struct(schema_builder& b) {
  std::string name(meta<T>::name);
  if (!b.want(name)) return;
  std::string body = "<xs:complexType name=\"" + name + "\"><xs:sequence>";
  for_each_field<T>([&](auto f) { body += xsd_element_of<typename decltype(f)::member_type>(b, f.name); });
  body += "</xs:sequence><xs:attribute ref=\"xg:id\"/><xs:attribute ref=\"xg:v\"/></xs:complexType>";
  b.define(std::move(body));
}

template <class T>
xsd_type xsd_of(schema_builder& b) {
  constexpr kind k = kind_of<T>();
  if constexpr (k == kind::structure) {
    define_struct<T>(b);
    return {"xg:" + std::string(meta<T>::name), {}, false, false};
  } else if constexpr (k == kind::monostate) {
    return {{}, "<xs:complexType/>", false, false};
  } else if constexpr (k == kind::boolean) {
    return {"xs:boolean", {}, true, false};
  } else if constexpr (k == kind::integer) {
    constexpr bool s = std::is_signed_v<T>;
    constexpr std::size_t n = sizeof(T);
    const char* ref = n == 1 ? (s ? "xs:byte" : "xs:unsignedByte")
                      : n == 2 ? (s ? "xs:short" : "xs:unsignedShort")
                      : n == 4 ? (s ? "xs:int" : "xs:unsignedInt")
                               : (s ? "xs:long" : "xs:unsignedLong");
    return {ref, {}, true, false};
  } else if constexpr (k == kind::floating) {
    return {xsd_builtin(b, std::is_same_v<T, float> ? "float" : "double"), {}, true, false};
  } else if constexpr (k == kind::described_enum) {
    std::string name = xsd_enum_name(type_display_name<T>());
    if (b.want(name)) {
      std::string def = "<xs:simpleType name=\"" + name + "\"><xs:union memberTypes=\"xs:long\"><xs:simpleType><xs:restriction base=\"xs:string\">";
      boost::mp11::mp_for_each<boost::describe::describe_enumerators<T>>(
          [&](auto d) { def += "<xs:enumeration value=\"" + std::string(d.name) + "\"/>"; });
      def += "</xs:restriction></xs:simpleType></xs:union></xs:simpleType>";
      b.define(std::move(def));
    }
    return {"xg:" + name, {}, true, false};
  } else if constexpr (k == kind::plain_enum) {
    return xsd_of<std::underlying_type_t<T>>(b);
  } else if constexpr (k == kind::string) {
    return {xsd_builtin(b, "string"), {}, false, false};
  } else if constexpr (k == kind::bytes) {
    return {"xs:base64Binary", {}, true, false};
  } else if constexpr (k == kind::optional) {
    xsd_type t = xsd_of<typename T::value_type>(b);
    t.nillable = true;
    return t;
  } else if constexpr (k == kind::restricted) {
    return {xsd_restricted(b, xsd_of<typename T::value_type>(b)), {}, false, true};
  } else if constexpr (k == kind::variant) {
    std::string def = "<xs:complexType><xs:choice>";
    [&]<class... As>(std::type_identity<std::variant<As...>>) {
      std::size_t i = 0;
      ((def += xsd_element_of<As>(b, alt_tags[i++])), ...);
    }(std::type_identity<T>{});
    return {{}, def + "</xs:choice></xs:complexType>", false, false};
  } else if constexpr (k == kind::pair) {
    return {{}, "<xs:complexType><xs:sequence>" + xsd_element_of<typename T::first_type>(b, "first") +
                    xsd_element_of<typename T::second_type>(b, "second") + "</xs:sequence></xs:complexType>", false, false};
  } else if constexpr (k == kind::tuple) {
    std::string def = "<xs:complexType><xs:sequence>";
    [&]<class... As>(std::type_identity<std::tuple<As...>>) {
      std::size_t i = 0;
      ((def += xsd_element_of<As>(b, tuple_tags[i++])), ...);
    }(std::type_identity<T>{});
    return {{}, def + "</xs:sequence></xs:complexType>", false, false};
  } else if constexpr (k == kind::duration) {
    return xsd_of<typename T::rep>(b);
  } else if constexpr (k == kind::time_point) {
    return xsd_of<typename T::duration::rep>(b);
  } else if constexpr (k == kind::unique_ptr) {
    using P = smart_pointee_t<T>;
    if constexpr (std::is_polymorphic_v<P>) {
      std::string def = "<xs:complexType><xs:choice>";
      xsd_polymorphic_choices<P>(b, def);
      return {{}, def + "</xs:choice></xs:complexType>", false, true};
    } else {
      xsd_type t = xsd_of<P>(b);
      t.nillable = true;
      return t;
    }
  } else if constexpr (k == kind::shared_ptr || k == kind::weak_ptr) {
    xsd_pool<smart_pointee_t<T>>(b);
    return {xsd_builtin(b, "ref"), {}, false, true};
  } else if constexpr (k == kind::raw_ptr) {
    return {xsd_builtin(b, "ref"), {}, false, true};
  } else if constexpr (k == kind::sequence || k == kind::set) {
    return {{}, "<xs:complexType><xs:sequence>" + xsd_element_of<typename T::value_type>(b, "item", " minOccurs=\"0\" maxOccurs=\"unbounded\"") +
                    "</xs:sequence></xs:complexType>", false, false};
  } else if constexpr (k == kind::array) {
    constexpr std::size_t n = std::tuple_size_v<T>;
    std::string occurs = " minOccurs=\"" + std::to_string(n) + "\" maxOccurs=\"" + std::to_string(n) + "\"";
    return {{}, "<xs:complexType><xs:sequence>" + (n ? xsd_element_of<typename T::value_type>(b, "item", occurs) : std::string()) +
                    "</xs:sequence></xs:complexType>", false, false};
  } else if constexpr (k == kind::map) {
    xsd_type item{{}, "<xs:complexType><xs:sequence>" + xsd_element_of<typename T::key_type>(b, "key") +
                          xsd_element_of<typename T::mapped_type>(b, "value") + "</xs:sequence></xs:complexType>", false, false};
    return {{}, "<xs:complexType><xs:sequence>" + xsd_element("item", item, " minOccurs=\"0\" maxOccurs=\"unbounded\"") +
                    "</xs:sequence></xs:complexType>", false, false};
  } else {
    return {"xs:anyType", {}, false, true};
  }
}

template <class T>
void schema_erased(schema_builder& b) {
  xsd_of<T>(b);
}

}  // namespace xgate::detail
