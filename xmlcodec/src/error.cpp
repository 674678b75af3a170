#include <xgate/xmlcodec/error.hpp>

namespace xgate {

const code_category& codec_category() noexcept {
#define E(c) static_cast<int>(errc::c)
  static const code_category category("xgate.codec", {
      {E(malformed_xml), "malformed_xml", condition::invalid_input, "not well-formed XML"},
      {E(forbidden_markup), "forbidden_markup", condition::invalid_input, "DOCTYPE, entity declarations or references to undeclared entities"},
      {E(too_deep), "too_deep", condition::too_large, "element nesting beyond decode_options::max_depth"},
      {E(too_large), "too_large", condition::too_large, "document beyond decode_options::max_bytes"},
      {E(not_xgate_document), "not_xgate_document", condition::invalid_input, "the root is not <xg:doc xmlns:xg=\"urn:xgate:1\">"},
      {E(wrong_root_type), "wrong_root_type", condition::invalid_input, "the document holds another type than the one asked for"},
      {E(unknown_type), "unknown_type", condition::invalid_input, "a type name that is not registered"},
      {E(abstract_type), "abstract_type", condition::invalid_input, "a registered type that cannot be instantiated"},
      {E(unknown_field), "unknown_field", condition::invalid_input, "an element the type does not describe (strict mode)"},
      {E(missing_field), "missing_field", condition::invalid_input, "a field absent in a document of the type's current version (strict mode)"},
      {E(unexpected_content), "unexpected_content", condition::invalid_input, "text or elements where none may be"},
      {E(missing_id), "missing_id", condition::invalid_input, "xg:ref names an id no object carries"},
      {E(duplicate_id), "duplicate_id", condition::invalid_input, "two objects carry the same xg:id"},
      {E(wrong_ref_type), "wrong_ref_type", condition::invalid_input, "xg:ref names an object of an incompatible type"},
      {E(unreferenced_object), "unreferenced_object", condition::invalid_input, "a shared object that nothing refers to"},
      {E(bad_number), "bad_number", condition::invalid_input, "not a number of the expected kind"},
      {E(number_out_of_range), "number_out_of_range", condition::invalid_input, "a number that does not fit the field"},
      {E(bad_value), "bad_value", condition::invalid_input, "a bool, enum name, variant index or count that is not allowed"},
      {E(bad_base64), "bad_base64", condition::invalid_input, "invalid base64"},
      {E(bad_text), "bad_text", condition::invalid_input, "characters XML cannot carry, invalid UTF-8, bad xg:x escape"},
      {E(duplicate_key), "duplicate_key", condition::invalid_input, "the same key twice in a map or set"},
      {E(version_too_new), "version_too_new", condition::invalid_input, "a type version newer than this program knows"},
      {E(access_denied), "access_denied", condition::access_denied, "the principal lacks the right"},
      {E(signature_invalid), "signature_invalid", condition::access_denied, "the signature does not match the bytes it covers"},
      {E(not_signed), "not_signed", condition::access_denied, "a key was given but the document carries no signature"},
      {E(key_error), "key_error", condition::invalid_input, "a key file that cannot be read or used"},
      {E(encode_failure), "encode_failure", condition::invalid_input, "an object graph that cannot be written (unregistered type, dangling pointer)"},
      {E(io_error), "io_error", condition::internal, "a sink or file failed"},
  });
#undef E
  return category;
}

const char* to_string(errc code) noexcept { return codec_category().code_name(static_cast<int>(code)); }

std::optional<errc> errc_from_string(std::string_view name) noexcept {
  return codec_category().value_as<errc>(name);
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
