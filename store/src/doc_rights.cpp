#include "doc_rights.hpp"

#include <pugixml.hpp>

#include <xgate/store/error.hpp>
#include <xgate/xmlcodec/error.hpp>

namespace xgate::store::detail {

namespace {
pugi::xml_node first_element(pugi::xml_node n) {
  for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling())
    if (c.type() == pugi::node_element) return c;
  return {};
}
}  // namespace

std::optional<xgate::rights> embedded_rights(std::string_view xml, std::string_view operation, std::string_view document) {
  pugi::xml_document doc;
  pugi::xml_parse_result parsed = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!parsed)
    throw store_error(store_errc::bad_document, operation, document,
                      std::string("not well-formed XML at byte ") + std::to_string(parsed.offset) + ": " +
                          parsed.description());
  pugi::xml_node root = doc.document_element();
  if (!root) throw store_error(store_errc::bad_document, operation, document, "no root element");
  if (std::string_view(root.name()) != "xg:doc" || std::string_view(root.attribute("xmlns:xg").value()) != "urn:xgate:1")
    return std::nullopt;
  pugi::xml_node n = first_element(root);
  if (!n || std::string_view(n.name()) != "xg:rights") return std::nullopt;
  try {
    xgate::rights r;
    r.creator = n.attribute("creator").value();
    if (!r.creator.empty() && !is_valid_principal(r.creator))
      throw store_error(store_errc::bad_document, operation, document, "<xg:rights> names an invalid creator");
    r.read = parse_principals(n.attribute("read").value());
    r.write = parse_principals(n.attribute("write").value());
    r.del = parse_principals(n.attribute("delete").value());
    r.copy = parse_principals(n.attribute("copy").value());
    return r;
  } catch (const xgate::error& e) {
    throw store_error(store_errc::bad_document, operation, document, std::string("<xg:rights>: ") + e.what());
  }
}

}  // namespace xgate::store::detail
