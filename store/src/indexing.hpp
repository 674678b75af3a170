// Declared indexes: what a document gives an index, keeping them current in the store's
// write transactions, and which index a query can use.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <xgate/store/engine.hpp>

namespace xgate::store::detail {

// Bytes of a value an index keeps; longer values are kept cut, and a lookup cuts its value
// the same way (the query is evaluated on what the index gives, so a cut value only costs a
// document read for nothing).
inline constexpr std::size_t index_value_bytes = 64;

// Refuses, as store_error(bad_name or bad_xpath) for operation, an id or an expression that
// add_index cannot take.
void check_index(std::string_view operation, std::string_view id, std::string_view expression);

// The values index expression gives xml: the string value of each selected node, cut to
// index_value_bytes, sorted, without repeats. None for XML that does not parse.
std::vector<std::string> index_values(std::string_view expression, std::string_view xml);

// Makes every one of indexes over name list it under the values of xml (nullptr: the
// document is gone and leaves them).
void update_indexes(write_transaction& t, const std::vector<index_record>& indexes, std::string_view name,
                    const std::string_view* xml);
// The same for the indexes t holds.
inline void update_indexes(write_transaction& t, std::string_view name, const std::string_view* xml) {
  update_indexes(t, t.indexes(), name, xml);
}

// An index a query can use and the value it looks up.
struct index_use {
  std::string id;
  std::string value;  // cut as the index keeps values
};
// The first of indexes that can answer xpath on prefix: an index over the prefix (or one
// holding it) whose expression xpath starts with, followed by [. = 'LITERAL'] and nothing
// that could add other nodes (a union).
std::optional<index_use> usable_index(const std::vector<index_record>& indexes, std::string_view prefix,
                                      std::string_view xpath);

}  // namespace xgate::store::detail
