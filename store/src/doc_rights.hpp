// Reading a document's embedded <xg:rights> without knowing its type: the codec's decoder
// needs the root type, so the store reads the frame itself with pugixml, the same way the
// decoder checks it (<xg:doc xmlns:xg="urn:xgate:1"> whose first element is <xg:rights>).
#pragma once

#include <optional>
#include <string_view>

#include <xgate/xmlcodec/rights.hpp>

namespace xgate::store::detail {

// Throws store_error(bad_document) naming operation and document when the XML is not
// well-formed or its embedded rights cannot be read. nullopt: no embedded rights.
std::optional<xgate::rights> embedded_rights(std::string_view xml, std::string_view operation, std::string_view document);

}  // namespace xgate::store::detail
