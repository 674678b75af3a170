// A document's embedded <xg:rights>, read by the codec (xgate::embedded_rights) as strictly as
// decoding would, with its errors turned into the store's.
#pragma once

#include <optional>
#include <string_view>

#include <xgate/xmlcodec/rights.hpp>

namespace xgate::store::detail {

// Throws store_error(bad_document) naming operation and document when the XML is not
// well-formed or its embedded rights cannot be read. nullopt: no embedded rights.
std::optional<xgate::rights> embedded_rights(std::string_view xml, std::string_view operation, std::string_view document);

}  // namespace xgate::store::detail
