// Typed channel errors. Like store_error: a named code plus a message that says what was
// refused and where, e.g.
//   channel: frame message at byte 2: field "from": length 300 runs past the end (2 bytes left)
//   channel: message node/a/3f9c0d2e71b4a856/7 from "node/a": body is a shop.Invoice, expected a shop.Order
#pragma once

#include <optional>
#include <string>
#include <string_view>

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
};

const char* to_string(channel_errc code) noexcept;  // "bad_frame", ...
std::optional<channel_errc> channel_errc_from_string(std::string_view name) noexcept;

// An xgate::error, so one handler catches every xgate failure. Its xgate::error::code() is
// the nearest xgate one: access_denied for bad_auth and spoofed_sender, wrong_root_type
// for wrong_body_type, channel_failure otherwise; channel_error::code() tells the
// channel's own reason.
class channel_error : public xgate::error {
 public:
  // what(): "channel: DETAIL"
  channel_error(channel_errc code, std::string_view detail);
  channel_errc code() const noexcept { return code_; }
  const std::string& detail() const noexcept { return detail_; }

 private:
  channel_errc code_;
  std::string detail_;
};

}  // namespace xgate::channel
