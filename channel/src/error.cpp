#include <xgate/channel/error.hpp>

#include <array>

namespace xgate::channel {

namespace {
constexpr std::array<std::pair<channel_errc, const char*>, 15> names{{
    {channel_errc::bad_frame, "bad_frame"},
    {channel_errc::frame_too_large, "frame_too_large"},
    {channel_errc::bad_envelope, "bad_envelope"},
    {channel_errc::bad_version, "bad_version"},
    {channel_errc::bad_auth, "bad_auth"},
    {channel_errc::spoofed_sender, "spoofed_sender"},
    {channel_errc::wrong_body_type, "wrong_body_type"},
    {channel_errc::bad_body, "bad_body"},
    {channel_errc::bad_ack, "bad_ack"},
    {channel_errc::buffer_full, "buffer_full"},
    {channel_errc::protocol, "protocol"},
    {channel_errc::no_method, "no_method"},
    {channel_errc::remote_failure, "remote_failure"},
    {channel_errc::timeout, "timeout"},
    {channel_errc::route_broken, "route_broken"},
}};

xgate::errc nearest(channel_errc c) noexcept {
  switch (c) {
    case channel_errc::bad_auth:
    case channel_errc::spoofed_sender: return xgate::errc::access_denied;
    case channel_errc::wrong_body_type: return xgate::errc::wrong_root_type;
    default: return xgate::errc::channel_failure;
  }
}
}  // namespace

const char* to_string(channel_errc code) noexcept {
  for (auto& [c, n] : names)
    if (c == code) return n;
  return "unknown";
}

std::optional<channel_errc> channel_errc_from_string(std::string_view name) noexcept {
  for (auto& [c, n] : names)
    if (name == n) return c;
  return std::nullopt;
}

channel_error::channel_error(channel_errc code, std::string_view detail)
    : xgate::error(nearest(code), "channel: " + std::string(detail)), code_(code), detail_(detail) {}

}  // namespace xgate::channel
