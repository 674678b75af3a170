#include "indexing.hpp"

#include <algorithm>
#include <pugixml.hpp>

#include <xgate/base/text.hpp>
#include <xgate/store/names.hpp>

namespace xgate::store::detail {

namespace {

std::string cut(std::string value) {
  if (value.size() > index_value_bytes) value.resize(index_value_bytes);
  return value;
}

// XPath's string value: an element's is the text of all its descendants.
std::string string_value(const pugi::xpath_node& n) {
  if (n.attribute()) return n.attribute().value();
  pugi::xml_node x = n.node();
  if (x.type() != pugi::node_element && x.type() != pugi::node_document) return x.value();
  std::string out;
  for (pugi::xml_node d = x.first_child(); d && d != x;) {
    if (d.type() == pugi::node_pcdata || d.type() == pugi::node_cdata) out += d.value();
    if (d.first_child()) {
      d = d.first_child();
      continue;
    }
    while (d != x && !d.next_sibling()) d = d.parent();
    if (d != x) d = d.next_sibling();
  }
  return out;
}

std::string_view skip_spaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) s.remove_prefix(1);
  return s;
}

}  // namespace

void check_index(std::string_view operation, std::string_view id, std::string_view expression) {
  if (!is_valid_identifier(id))
    throw store_error(store_errc::bad_name, operation, id, "an index id is 1 to 64 of the characters A-Z a-z 0-9 . _ -");
  std::string expr(expression);
  try {
    pugi::xpath_query q(expr.c_str());
    if (!q)
      throw store_error(store_errc::bad_xpath, operation, id, "bad XPath \"" + printable(expr) + "\": " + q.result().description());
    if (q.return_type() != pugi::xpath_type_node_set)
      throw store_error(store_errc::bad_xpath, operation, id,
                        "an index expression selects nodes; \"" + printable(expr) + "\" gives a single value");
  } catch (const pugi::xpath_exception& e) {
    throw store_error(store_errc::bad_xpath, operation, id, "bad XPath \"" + printable(expr) + "\": " + e.what());
  }
}

std::vector<std::string> index_values(std::string_view expression, std::string_view xml) {
  std::string expr(expression);
  pugi::xpath_query q(expr.c_str());
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8)) return {};
  std::vector<std::string> out;
  for (const pugi::xpath_node& n : q.evaluate_node_set(doc)) out.push_back(cut(string_value(n)));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void update_indexes(write_transaction& t, const std::vector<index_record>& indexes, std::string_view name,
                    const std::string_view* xml) {
  for (const index_record& ix : indexes) {
    if (!is_under(name, ix.prefix)) continue;
    t.set_index_entries(ix.id, name, xml ? index_values(ix.expression, *xml) : std::vector<std::string>{});
  }
}

std::optional<index_use> usable_index(const std::vector<index_record>& indexes, std::string_view prefix,
                                      std::string_view xpath) {
  xpath = skip_spaces(xpath);
  for (const index_record& ix : indexes) {
    if (!is_under(prefix, ix.prefix) || !xpath.starts_with(ix.expression)) continue;
    std::string_view rest = skip_spaces(xpath.substr(ix.expression.size()));
    auto take = [&](char c) {
      if (rest.empty() || rest.front() != c) return false;
      rest = skip_spaces(rest.substr(1));
      return true;
    };
    if (!take('[') || !take('.') || !take('=') || rest.empty() || (rest.front() != '\'' && rest.front() != '"')) continue;
    char quote = rest.front();
    std::size_t close = rest.find(quote, 1);
    if (close == std::string_view::npos) continue;
    std::string value(rest.substr(1, close - 1));
    rest = skip_spaces(rest.substr(close + 1));
    if (!take(']')) continue;
    // What follows may only narrow the nodes found: more steps or predicates, no union.
    if (!rest.empty() && rest.front() != '/' && rest.front() != '[') continue;
    if (rest.find('|') != std::string_view::npos) continue;
    return index_use{ix.id, cut(std::move(value))};
  }
  return std::nullopt;
}

}  // namespace xgate::store::detail
