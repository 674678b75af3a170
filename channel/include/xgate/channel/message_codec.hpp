// Typed message bodies: a body of a registered xgate type goes into an envelope checked,
// and comes out decoded for the receiver's principal, or refused with a clear error.
//
//   xgate::channel::message_codec<shop::Order> orders({.principal = "bob"});
//   envelope e = orders.make("node/a", "node/b", order, "order");   // stamped when sent
//   shop::Order o = orders.open(received);   // channel_error(wrong_body_type) for an Invoice
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <xgate/channel/envelope.hpp>
#include <xgate/channel/error.hpp>
#include <xgate/channel/frame.hpp>
#include <xgate/xmlcodec.hpp>

namespace xgate::channel {

struct message_codec_options {
  std::string principal;                    // who opens bodies (the receiver's principal)
  std::optional<xgate::rights> rights;      // rights written into bodies made (unset: none, open to all)
  const signing_key* sign = nullptr;        // sign bodies made
  const verify_key* verify = nullptr;       // bodies opened must be signed by this key
  bool strict = true;                       // unknown fields refused (false: skipped)
  std::size_t max_body = default_max_frame - 4096;  // leaves room for the envelope in a frame
};

// The type name of an xgate document's root object ("shop.Order"); "" when the body is
// not a well-formed xgate document. For error messages: it parses the whole body.
[[nodiscard]] std::string body_type(std::string_view xml);

namespace detail {
// Throws bad_envelope for invalid from, to or kind (seq and id are stamped later).
void check_addressing(std::string_view from, std::string_view to, std::string_view kind);
[[noreturn]] void body_too_large(std::string_view type, std::size_t size, std::size_t max);
// Turns a decoder's refusal into wrong_body_type or bad_body naming the message.
[[noreturn]] void refuse_body(const envelope& e, std::string_view expected, const xgate::decode_error& error);
}  // namespace detail

template <class T>
class message_codec {
  static_assert(reflected<T>, "message_codec<T> needs a type described with XGATE_TYPE or XGATE_REFLECT");

 public:
  static constexpr std::string_view type_name = type_name_v<T>;

  explicit message_codec(message_codec_options options = {}) : options_(std::move(options)) {}

  // An envelope around value, addressed and timed, not yet stamped (seq 0, id ""): the
  // sender's pair_stamper numbers it when it is sent. Throws channel_error(bad_envelope)
  // for bad names or kind, (frame_too_large) for a body beyond max_body.
  [[nodiscard]] envelope make(std::string from, std::string to, const T& value, std::string kind = std::string(type_name)) const {
    detail::check_addressing(from, to, kind);
    envelope e;
    e.from = std::move(from);
    e.to = std::move(to);
    e.kind = std::move(kind);
    e.time = std::chrono::system_clock::now();
    encode_options eo;  // not designated: see method.hpp (GCC bug 96868 in users' builds)
    eo.indent = 0;
    eo.rights = options_.rights;
    eo.sign = options_.sign;
    e.body = to_xml(value, eo);
    if (e.body.size() > options_.max_body) detail::body_too_large(type_name, e.body.size(), options_.max_body);
    return e;
  }

  // The body decoded for the codec's principal. Throws channel_error(wrong_body_type)
  // naming the expected and found types and the message id, (bad_body) for a body that is
  // not a valid T; xgate::access_denied and xgate::signature_error pass through.
  [[nodiscard]] T open(const envelope& e) const {
    decode_options o;
    o.principal = options_.principal;
    o.verify = options_.verify;
    o.strict = options_.strict;
    o.limits.max_bytes = options_.max_body;
    o.document_name = "message " + e.id;
    try {
      return from_xml<T>(e.body, o);
    } catch (const xgate::decode_error& error) {
      detail::refuse_body(e, type_name, error);
    }
  }

  const message_codec_options& options() const noexcept { return options_; }

 private:
  message_codec_options options_;
};

}  // namespace xgate::channel
