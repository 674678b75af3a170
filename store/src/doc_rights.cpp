#include "doc_rights.hpp"

#include <xgate/store/error.hpp>
#include <xgate/xmlcodec.hpp>

namespace xgate::store::detail {

std::optional<xgate::rights> embedded_rights(std::string_view xml, std::string_view operation, std::string_view document) {
  try {
    return xgate::embedded_rights(xml, {.document_name = std::string(document)});
  } catch (const xgate::decode_error& e) {
    std::string where = e.line() ? " (line " + std::to_string(e.line()) + (e.path().empty() ? "" : ", " + e.path()) + ")" : "";
    throw store_error(store_errc::bad_document, operation, document, e.detail() + where);
  }
}

}  // namespace xgate::store::detail
