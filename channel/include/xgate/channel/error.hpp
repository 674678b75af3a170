// Typed channel errors. Like store_error: a named code plus a message that says what was
// refused and where, e.g.
//   channel: frame message at byte 2: field "from": length 300 runs past the end (2 bytes left)
//   channel: message node/a/3f9c0d2e71b4a856/7 from "node/a": body is a shop.Invoice, expected a shop.Order
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <system_error>

#include <xgate/xmlcodec/error.hpp>

namespace xgate::channel {

enum class channel_errc {
  bad_frame = 1,     // bytes that are not a frame: unknown kind, truncated, trailing bytes, bad field
  frame_too_large,   // a frame (or its length prefix) beyond the maximum frame size
  bad_envelope,      // an envelope with invalid names, kind or an id that does not match it
  bad_version,       // a peer speaking another protocol version
  bad_auth,          // authentication failed: unknown credential, wrong secret, replayed response
  spoofed_sender,    // a message whose from is not the endpoint the link authenticated
  wrong_body_type,   // a body holding another xgate type than the gate expects
  bad_body,          // a body that is not a valid document of the gate's type
  bad_ack,           // an acknowledgement of a sequence number never sent
  buffer_full,       // a sender's unacknowledged buffer is at its limit: back off
  protocol,          // a frame that is valid but not allowed now (e.g. a message before welcome)
  no_method,         // a call of a method the receiving endpoint does not serve
  remote_failure,    // a called method failed on the remote endpoint (its reason is in the message)
  timeout,           // no reply to a call within its timeout
  route_broken,      // a multi-hop route (agent.hpp) failed at a named hop, or was closed
  access_denied,     // a message or call outside the methods its sender's credential allows
};
}  // namespace xgate::channel

template <>
struct std::is_error_code_enum<xgate::channel::channel_errc> : std::true_type {};

namespace xgate::channel {

// The category of channel_errc ("xgate.channel"); each code's condition: docs/errors.md.
[[nodiscard]] const xgate::code_category& channel_category() noexcept;
[[nodiscard]] inline std::error_code make_error_code(channel_errc code) noexcept {
  return {static_cast<int>(code), channel_category()};
}

[[nodiscard]] const char* to_string(channel_errc code) noexcept;  // "bad_frame", ...
[[nodiscard]] std::optional<channel_errc> channel_errc_from_string(std::string_view name) noexcept;  // the inverse

// An xgate::error whose code() is a channel_errc (compare: `e.code() == channel_errc::timeout`).
class channel_error : public xgate::error {
 public:
  // what(): "channel: DETAIL"
  channel_error(channel_errc code, std::string_view detail);
  // code() as the channel_errc it always is, for a switch or to_string.
  [[nodiscard]] channel_errc reason() const noexcept { return static_cast<channel_errc>(code().value()); }
  const std::string& detail() const noexcept { return detail_; }

 private:
  std::string detail_;
};

}  // namespace xgate::channel
