#include <xgate/channel/message_codec.hpp>

#include <xgate/base/text.hpp>
#include <xgate/xmlcodec/detail/xml_tree.hpp>

namespace xgate::channel {

std::string body_type(std::string_view xml) {
  using xgate::detail::xml_tree;
  xml_tree tree;
  xml_tree::parse_error error;
  if (!tree.parse(xml, 256, error)) return {};
  std::uint32_t doc = tree.root();
  if (doc == 0 || tree.name(doc) != "xg:doc") return {};
  for (std::uint32_t n = tree.at(doc).first_child; n != 0; n = tree.at(n).next_sibling) {
    if (!(tree.at(n).flags & xml_tree::is_element)) continue;
    std::string_view name = tree.name(n);
    if (name.starts_with("xg:")) continue;  // rights, signature
    return std::string(name);
  }
  return {};
}

namespace detail {
void check_addressing(std::string_view from, std::string_view to, std::string_view kind) {
  auto fail = [](const std::string& what) { throw channel_error(channel_errc::bad_envelope, "make message: " + what); };
  if (!is_valid_endpoint(from)) fail("from \"" + xgate::printable(from) + "\" is not a valid endpoint name");
  if (!is_valid_endpoint(to)) fail("to \"" + xgate::printable(to) + "\" is not a valid endpoint name");
  if (!is_valid_kind(kind)) fail("kind \"" + xgate::printable(kind) + "\" is not 1..64 of [A-Za-z0-9._-]");
}

void body_too_large(std::string_view type, std::size_t size, std::size_t max) {
  throw channel_error(channel_errc::frame_too_large, "make message: a " + std::string(type) + " body of " +
                                                         std::to_string(size) + " bytes, beyond the maximum of " +
                                                         std::to_string(max));
}

void refuse_body(const envelope& e, std::string_view expected, const xgate::decode_error& error) {
  std::string where = "message " + xgate::printable(e.id) + " from \"" + xgate::printable(e.from) + "\"";
  if (error.code() == xgate::errc::wrong_root_type || error.code() == xgate::errc::not_xgate_document) {
    std::string found = body_type(e.body);
    throw channel_error(channel_errc::wrong_body_type,
                        where + ": body is " + (found.empty() ? std::string("not an xgate document") : "a " + found) +
                            ", expected a " + std::string(expected));
  }
  throw channel_error(channel_errc::bad_body, where + ": body is not a valid " + std::string(expected) + ": " + error.what());
}
}  // namespace detail

}  // namespace xgate::channel
