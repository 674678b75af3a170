#include <xgate/xmlcodec/error.hpp>
#include <xgate/xmlcodec/registry.hpp>
#include <xgate/xmlcodec/schema.hpp>

namespace xgate {

std::string detail::schema_builder::finish(const std::string& root_element) const {
  std::string s =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xg=\"urn:xgate:1\" targetNamespace=\"urn:xgate:1\" "
      "elementFormDefault=\"unqualified\" attributeFormDefault=\"unqualified\">\n"
      "  <xs:attribute name=\"id\" type=\"xs:ID\"/>\n"
      "  <xs:attribute name=\"ref\" type=\"xs:IDREF\"/>\n"
      "  <xs:attribute name=\"v\" type=\"xs:positiveInteger\"/>\n"
      "  <xs:attribute name=\"read\" type=\"xs:string\"/>\n"
      "  <xs:attribute name=\"write\" type=\"xs:string\"/>\n"
      "  <xs:attribute name=\"delete\" type=\"xs:string\"/>\n"
      "  <xs:attribute name=\"copy\" type=\"xs:string\"/>\n"
      "  <xs:attributeGroup name=\"object-rights\"><xs:attribute ref=\"xg:read\"/><xs:attribute ref=\"xg:write\"/>"
      "<xs:attribute ref=\"xg:delete\"/><xs:attribute ref=\"xg:copy\"/></xs:attributeGroup>\n"
      "  <xs:element name=\"x\" type=\"xs:hexBinary\"/>\n"
      "  <xs:element name=\"rights\"><xs:complexType><xs:attribute name=\"creator\" type=\"xs:string\"/>"
      "<xs:attribute name=\"read\" type=\"xs:string\"/><xs:attribute name=\"write\" type=\"xs:string\"/>"
      "<xs:attribute name=\"delete\" type=\"xs:string\"/><xs:attribute name=\"copy\" type=\"xs:string\"/>"
      "</xs:complexType></xs:element>\n"
      "  <xs:element name=\"signature\"><xs:complexType><xs:simpleContent><xs:extension base=\"xs:base64Binary\">"
      "<xs:attribute name=\"alg\" type=\"xs:string\" use=\"required\"/><xs:attribute name=\"key\" type=\"xs:string\" use=\"required\"/>"
      "</xs:extension></xs:simpleContent></xs:complexType></xs:element>\n"
      "  <xs:element name=\"doc\"><xs:complexType><xs:sequence>\n"
      "    <xs:element ref=\"xg:rights\" minOccurs=\"0\"/>\n    " +
      root_element + "\n";
  if (!pool_.empty()) {
    s += "    <xs:choice minOccurs=\"0\" maxOccurs=\"unbounded\">";
    for (const auto& [element, type] : pool_) {
      if (element.starts_with("xg:"))
        s += "<xs:element name=\"" + element.substr(3) + "\" form=\"qualified\" type=\"" + type + "\"/>";
      else
        s += "<xs:element name=\"" + element + "\" type=\"" + type + "\"/>";
    }
    s += "</xs:choice>\n";
  }
  s += "    <xs:element ref=\"xg:signature\" minOccurs=\"0\"/>\n  </xs:sequence></xs:complexType></xs:element>\n";
  for (const std::string& d : defs_) s += "  " + d + "\n";
  s += "</xs:schema>\n";
  return s;
}

std::string schema(std::string_view registered_name) {
  registered_type type = registry::instance().find(registered_name);
  if (!type) throw error(errc::unknown_type, "unknown type \"" + std::string(registered_name) + "\" (not registered)");
  return type.schema();
}

namespace detail {

std::string xsd_element(std::string_view name, const xsd_type& t, std::string_view extra) {
  std::string s = "<xs:element name=\"" + std::string(name) + "\"" + std::string(extra);
  if (t.nillable) s += " nillable=\"true\"";
  if (!t.ref.empty()) return s + " type=\"" + t.ref + "\"/>";
  return s + ">" + t.inline_def + "</xs:element>";
}

std::string xsd_enum_name(std::string_view demangled) {
  std::string out;
  for (std::size_t i = 0; i < demangled.size(); ++i) {
    char c = demangled[i];
    if (c == ':' && i + 1 < demangled.size() && demangled[i + 1] == ':') {
      out += '.';
      ++i;
    } else {
      out += is_xml_name_char(c) ? c : '_';
    }
  }
  return out;
}

std::string xsd_builtin(schema_builder& b, std::string_view which) {
  if (which == "double" || which == "float") {
    std::string name = "xg." + std::string(which);
    if (b.want(name))
      b.define("<xs:simpleType name=\"" + name + "\"><xs:union memberTypes=\"xs:" + std::string(which) +
               "\"><xs:simpleType><xs:restriction base=\"xs:string\"><xs:pattern value=\"-?NaN(\\(0x[0-9a-f]+\\))?\"/>"
               "</xs:restriction></xs:simpleType></xs:union></xs:simpleType>");
    return "xg:" + name;
  }
  if (which == "string") {
    if (b.want("xg.string"))
      b.define("<xs:complexType name=\"xg.string\" mixed=\"true\"><xs:sequence><xs:element ref=\"xg:x\" minOccurs=\"0\" "
               "maxOccurs=\"unbounded\"/></xs:sequence></xs:complexType>");
    return "xg:xg.string";
  }
  if (b.want("xg.ref")) b.define("<xs:complexType name=\"xg.ref\"><xs:attribute ref=\"xg:ref\"/></xs:complexType>");
  return "xg:xg.ref";
}

std::string xsd_restricted(schema_builder& b, const xsd_type& t) {
  std::string base = t.ref;
  if (base.empty()) {  // anonymous: name it so it can be extended
    std::string name = b.fresh_name();
    std::string def = t.inline_def;
    def.insert(std::string("<xs:complexType").size(), " name=\"" + name + "\"");
    b.define(def);
    base = "xg:" + name;
  }
  std::string name = b.fresh_name();
  std::string content = t.simple ? "simpleContent" : "complexContent";
  b.define("<xs:complexType name=\"" + name + "\"><xs:" + content + "><xs:extension base=\"" + base +
           "\"><xs:attributeGroup ref=\"xg:object-rights\"/></xs:extension></xs:" + content + "></xs:complexType>");
  return "xg:" + name;
}

}  // namespace detail
}  // namespace xgate
