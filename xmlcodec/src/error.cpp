#include <xgate/xmlcodec/error.hpp>

namespace xgate {

const char* to_string(errc code) noexcept {
  switch (code) {
    case errc::malformed_xml: return "malformed_xml";
    case errc::forbidden_markup: return "forbidden_markup";
    case errc::too_deep: return "too_deep";
    case errc::too_large: return "too_large";
    case errc::not_xgate_document: return "not_xgate_document";
    case errc::wrong_root_type: return "wrong_root_type";
    case errc::unknown_type: return "unknown_type";
    case errc::abstract_type: return "abstract_type";
    case errc::unknown_field: return "unknown_field";
    case errc::missing_field: return "missing_field";
    case errc::unexpected_content: return "unexpected_content";
    case errc::missing_id: return "missing_id";
    case errc::duplicate_id: return "duplicate_id";
    case errc::wrong_ref_type: return "wrong_ref_type";
    case errc::unreferenced_object: return "unreferenced_object";
    case errc::bad_number: return "bad_number";
    case errc::number_out_of_range: return "number_out_of_range";
    case errc::bad_value: return "bad_value";
    case errc::bad_base64: return "bad_base64";
    case errc::bad_text: return "bad_text";
    case errc::duplicate_key: return "duplicate_key";
    case errc::version_too_new: return "version_too_new";
    case errc::access_denied: return "access_denied";
    case errc::signature_invalid: return "signature_invalid";
    case errc::not_signed: return "not_signed";
    case errc::key_error: return "key_error";
    case errc::encode_failure: return "encode_failure";
    case errc::io_error: return "io_error";
    case errc::store_failure: return "store_failure";
    case errc::channel_failure: return "channel_failure";
  }
  return "unknown";
}

namespace {
std::string locate(const std::string& document, std::size_t line, const std::string& path, const std::string& detail) {
  std::string m = document;
  if (line > 0) m += ":" + std::to_string(line);
  m += ": ";
  if (!path.empty()) m += "at " + path + ": ";
  return m + detail;
}
}  // namespace

decode_error::decode_error(errc code, std::string document, std::size_t line, std::string path, std::string detail)
    : error(code, locate(document, line, path, detail)),
      document_(std::move(document)),
      path_(std::move(path)),
      detail_(std::move(detail)),
      line_(line) {}

access_denied::access_denied(std::string principal, std::string right, std::string document, std::string path)
    : error(errc::access_denied, "access denied: principal \"" + principal + "\" lacks the " + right + " right on \"" +
                                     document + "\"" + (path.empty() ? std::string() : " at " + path)),
      principal_(std::move(principal)),
      right_(std::move(right)),
      document_(std::move(document)) {}

}  // namespace xgate
