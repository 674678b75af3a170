// XPath queries over the documents under a prefix. The matching documents' bytes are
// copied out of a read transaction first and evaluated after it has ended: a slow
// expression never holds a transaction (and the old pages it pins) open.
#include <xgate/store/store.hpp>

#include <pugixml.hpp>

#include <sstream>

#include "store_impl.hpp"

namespace xgate::store {

namespace {

struct readable {
  std::string name;
  std::uint64_t revision;
  std::string xml;
};

// What q finds in xml; empty when the document does not parse or nothing matches.
std::vector<std::string> matches(const pugi::xpath_query& q, const std::string& xml) {
  std::vector<std::string> values;
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8)) return values;
  if (q.return_type() != pugi::xpath_type_node_set) {
    values.push_back(q.evaluate_string(doc));
    return values;
  }
  for (const pugi::xpath_node& n : q.evaluate_node_set(doc)) {
    if (n.attribute()) {
      values.emplace_back(n.attribute().value());
    } else if (n.node().type() == pugi::node_element) {
      std::ostringstream s;
      n.node().print(s, "", pugi::format_raw);
      values.push_back(s.str());
    } else {
      values.emplace_back(n.node().value());
    }
  }
  return values;
}

}  // namespace

std::vector<query_match> store::query(std::string_view prefix, std::string_view xpath, const caller& who) const {
  prefix = check_prefix("query", prefix);
  std::string expr(xpath);
  std::optional<pugi::xpath_query> q;
  try {
    q.emplace(expr.c_str());
  } catch (const pugi::xpath_exception& e) {
    throw store_error(store_errc::bad_xpath, "query", prefix, "bad XPath \"" + printable(expr) + "\": " + e.what());
  }
  if (!*q)
    throw store_error(store_errc::bad_xpath, "query", prefix,
                      "bad XPath \"" + printable(expr) + "\": " + q->result().description());
  std::vector<readable> docs = impl_->read("query", prefix, [&](const read_transaction& t) {
    std::vector<readable> out;
    each_readable(t, prefix, who, [&](document_info&& d) {
      std::string xml = t.bytes(d.name);
      out.push_back(readable{std::move(d.name), d.revision, std::move(xml)});
      return true;
    });
    return out;
  });
  std::vector<query_match> out;
  for (readable& d : docs) {
    std::vector<std::string> values = matches(*q, d.xml);
    if (!values.empty()) out.push_back(query_match{std::move(d.name), d.revision, std::move(values)});
  }
  return out;
}

}  // namespace xgate::store
