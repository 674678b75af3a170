// Frames: what crosses a link between an endpoint and the hub, on every transport.
//
// A frame's payload is one kind byte, then its fields in order: integers as LEB128
// varints (at most 10 bytes, no overflow), strings and bytes as a varint length and the
// bytes. A message frame's body is carried verbatim (no escaping, no re-encoding). A
// payload must be consumed exactly: trailing bytes are an error.
//
// TCP carries frames length-prefixed: a 4-byte big-endian payload length, then the payload.
// HTTP long-poll carries a bundle of frames in one body, framed the same way, so both
// transports share one reader. Decoding never trusts a length: a length prefix beyond the
// maximum frame size is refused before anything is allocated, and every field length is
// checked against the bytes that are left.
//
// Handshake (endpoint E, hub H):
//   E -> H  hello     endpoint name, credential id, protocol version, E's link_state
//   H -> E  challenge 32 fresh random bytes and the hub's context string
//   E -> H  auth      crypto_auth MAC over the challenge (see detail/auth.hpp)
//   H -> E  welcome   H's link_state (or refused: code and reason, then H closes)
// then message / ack / presence / ping / pong / error in both directions, and refused from
// H when a newer session takes E's name (then H closes).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <xgate/channel/envelope.hpp>
#include <xgate/channel/error.hpp>

namespace xgate::channel {

inline constexpr std::uint32_t protocol_version = 1;
inline constexpr std::size_t default_max_frame = std::size_t{1} << 20;  // 1 MiB
inline constexpr std::size_t frame_header_bytes = 4;                     // the TCP length prefix

// What one end of a link knows, exchanged at (re)connect so that both resume where the
// other stopped (see detail/link.hpp). Streams are random ids of a sender's link state: a peer
// that lost its state shows another stream (or 0) and the sender renumbers.
struct link_state {
  std::uint64_t sending_stream = 0;   // the id of this end's outgoing link stream
  std::uint64_t received_stream = 0;  // the peer's outgoing stream this end has received from (0: none)
  std::uint64_t received_seq = 0;     // the highest link seq of that stream received in order
  friend bool operator==(const link_state&, const link_state&) = default;
};

namespace frames {
struct hello {
  std::string endpoint;
  std::string credential_id;  // 16 hex digits: the first 8 bytes of the credential's hash
  std::uint32_t version = protocol_version;
  link_state link;
  friend bool operator==(const hello&, const hello&) = default;
};
struct challenge {
  std::array<unsigned char, 32> nonce{};
  std::string context;  // names the hub and its instance; bound into the MAC
  friend bool operator==(const challenge&, const challenge&) = default;
};
struct auth {
  std::array<unsigned char, 32> mac{};
  friend bool operator==(const auth&, const auth&) = default;
};
struct welcome {
  link_state link;
  friend bool operator==(const welcome&, const welcome&) = default;
};
struct refused {
  channel_errc code = channel_errc::bad_auth;
  std::string reason;  // one line
  friend bool operator==(const refused&, const refused&) = default;
};
struct message {
  std::uint64_t link_seq = 0;  // this message's number on the link (not the envelope's seq)
  envelope env;
  friend bool operator==(const message&, const message&) = default;
};
struct ack {
  std::uint64_t seq = 0;  // cumulative: every link seq up to this one was received in order
  friend bool operator==(const ack&, const ack&) = default;
};
struct presence {
  struct entry {
    std::string endpoint;
    bool online = false;
    friend bool operator==(const entry&, const entry&) = default;
  };
  bool snapshot = false;  // true: the whole list of who is online; false: changes
  std::vector<entry> entries;
  friend bool operator==(const presence&, const presence&) = default;
};
struct ping {
  std::uint64_t nonce = 0;
  friend bool operator==(const ping&, const ping&) = default;
};
struct pong {
  std::uint64_t nonce = 0;  // the ping's
  friend bool operator==(const pong&, const pong&) = default;
};
struct error {
  channel_errc code = channel_errc::protocol;
  std::string reason;        // one line
  std::string message_id;    // the message it is about; "" for none
  friend bool operator==(const error&, const error&) = default;
};
}  // namespace frames

// The order is the wire's kind byte minus one: never reorder, only append.
using frame = std::variant<frames::hello, frames::challenge, frames::auth, frames::welcome, frames::refused,
                           frames::message, frames::ack, frames::presence, frames::ping, frames::pong, frames::error>;

const char* kind_name(const frame& f) noexcept;  // "hello", "message", ...

// The payload (no length prefix).
[[nodiscard]] std::string encode_payload(const frame& f);
void encode_payload(const frame& f, std::string& out);  // appends
// Decodes one payload. Throws channel_error(bad_frame) naming the frame kind, the field and
// the byte offset; (frame_too_large) beyond max_frame; (bad_envelope) for a message whose
// envelope fails check_envelope. Reads only [payload.data(), payload.data() + size()).
[[nodiscard]] frame decode_payload(std::string_view payload, std::size_t max_frame = default_max_frame);

// Appends the length prefix and the payload. Throws channel_error(frame_too_large) for a
// frame beyond max_frame (a sender's mistake caught before the peer refuses it).
void append_framed(const frame& f, std::string& out, std::size_t max_frame = default_max_frame);
[[nodiscard]] std::string framed(const frame& f, std::size_t max_frame = default_max_frame);

// Splits a byte stream (TCP) into frames. Feed bytes as they arrive; next() gives each
// complete frame. A length prefix beyond max_frame throws frame_too_large at once, before
// the payload arrives or is allocated. After a throw the stream is unusable: close it.
class frame_reader {
 public:
  explicit frame_reader(std::size_t max_frame = default_max_frame) : max_frame_(max_frame) {}
  void feed(std::string_view bytes);
  // The next complete frame; nullopt until more bytes arrive. Throws what decode_payload throws.
  [[nodiscard]] std::optional<frame> next();
  std::size_t buffered() const noexcept { return buf_.size() - pos_; }  // bytes not yet consumed
  // The limit for the frames still to come (the hub's is small until a connection logs in).
  void set_max_frame(std::size_t max_frame) noexcept { max_frame_ = max_frame; }

 private:
  std::size_t max_frame_;
  std::string buf_;
  std::size_t pos_ = 0;
};

// HTTP long-poll: a body holding frames, each length-prefixed as on TCP. decode_bundle
// refuses a body that ends inside a frame (bad_frame) or holds more than max_frames, and
// throws what decode_payload throws for a frame in it; encode_bundle throws
// channel_error(frame_too_large) for a frame beyond max_frame.
[[nodiscard]] std::string encode_bundle(const std::vector<frame>& fs, std::size_t max_frame = default_max_frame);
[[nodiscard]] std::vector<frame> decode_bundle(std::string_view body, std::size_t max_frame = default_max_frame,
                                 std::size_t max_frames = 65536);

}  // namespace xgate::channel
