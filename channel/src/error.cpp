#include <xgate/channel/error.hpp>

namespace xgate::channel {

const xgate::code_category& channel_category() noexcept {
#define E(c) static_cast<int>(channel_errc::c)
  static const xgate::code_category category("xgate.channel", {
      {E(bad_frame), "bad_frame", condition::invalid_input, "bytes that are not a frame: unknown kind, truncated, trailing bytes, bad field"},
      {E(frame_too_large), "frame_too_large", condition::too_large, "a frame (or its length prefix) beyond the maximum frame size"},
      {E(bad_envelope), "bad_envelope", condition::invalid_input, "an envelope with invalid names, kind or an id that does not match it"},
      {E(bad_version), "bad_version", condition::invalid_input, "a peer speaking another protocol version"},
      {E(bad_auth), "bad_auth", condition::access_denied, "authentication failed: unknown credential, wrong secret, replayed response"},
      {E(spoofed_sender), "spoofed_sender", condition::access_denied, "a message whose from is not the endpoint the link authenticated"},
      {E(wrong_body_type), "wrong_body_type", condition::invalid_input, "a body holding another xgate type than the gate expects"},
      {E(bad_body), "bad_body", condition::invalid_input, "a body that is not a valid document of the gate's type"},
      {E(bad_ack), "bad_ack", condition::invalid_input, "an acknowledgement of a sequence number never sent"},
      {E(buffer_full), "buffer_full", condition::unavailable, "a sender's unacknowledged buffer is at its limit: back off"},
      {E(protocol), "protocol", condition::invalid_input, "a frame that is valid but not allowed now (e.g. a message before welcome)"},
      {E(no_method), "no_method", condition::not_found, "a call of a method the receiving endpoint does not serve"},
      {E(remote_failure), "remote_failure", condition::internal, "a called method failed on the remote endpoint (its reason is in the message)"},
      {E(timeout), "timeout", condition::unavailable, "no reply to a call within its timeout"},
      {E(route_broken), "route_broken", condition::unavailable, "a multi-hop route (agent.hpp) failed at a named hop, or was closed"},
      {E(access_denied), "access_denied", condition::access_denied, "a message or call outside the methods its sender's credential allows"},
  });
#undef E
  return category;
}

const char* to_string(channel_errc code) noexcept { return channel_category().code_name(static_cast<int>(code)); }

std::optional<channel_errc> channel_errc_from_string(std::string_view name) noexcept {
  return channel_category().value_as<channel_errc>(name);
}

channel_error::channel_error(channel_errc code, std::string_view detail)
    : xgate::error(code, "channel: " + std::string(detail)), detail_(detail) {}

}  // namespace xgate::channel
