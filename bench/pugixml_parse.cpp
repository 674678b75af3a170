// The DOM floor: pugixml parsing xgate's bytes into its DOM, with the flags a DOM-based
// decoder of xgate documents needs (and that xgate's decoder used while it was built on
// pugixml): CDATA kept, references expanded, line ends normalised, and white space kept
// where it is an element's only content (a string of spaces).
#include <stdexcept>
#include <string>

#include <pugixml.hpp>

#include "codecs.hpp"

namespace bench {

namespace {
constexpr unsigned parse_flags = pugi::parse_cdata | pugi::parse_escapes | pugi::parse_eol | pugi::parse_ws_pcdata_single;

void load(pugi::xml_document& doc, std::string_view xml) {
  pugi::xml_parse_result r = doc.load_buffer(xml.data(), xml.size(), parse_flags, pugi::encoding_utf8);
  if (!r) throw std::runtime_error(std::string("pugixml: ") + r.description() + " at offset " + std::to_string(r.offset));
}
}  // namespace

std::size_t pugixml_parse_check(std::string_view xml) {
  pugi::xml_document doc;
  load(doc, xml);
  std::size_t elements = 0;
  struct counter : pugi::xml_tree_walker {
    std::size_t* n;
    bool for_each(pugi::xml_node& node) override {
      if (node.type() == pugi::node_element) ++*n;
      return true;
    }
  } walker;
  walker.n = &elements;
  doc.traverse(walker);
  return elements;
}

struct pugixml_parse::impl {
  pugi::xml_document doc;
};

pugixml_parse::pugixml_parse() : impl_(std::make_unique<impl>()) {}
pugixml_parse::~pugixml_parse() = default;
void pugixml_parse::parse(std::string_view xml) { load(impl_->doc, xml); }

}  // namespace bench
