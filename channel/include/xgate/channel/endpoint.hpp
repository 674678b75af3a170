// An endpoint: a named program on the channel. It logs in to the hub, sends messages that
// arrive exactly once and in order per receiver, receives them, and sees who is online.
//
//   xgate::channel::endpoint a({.hub = "tcp://127.0.0.1:4711", .name = "node-a", .secret = token});
//   a.start();                                       // connects in the background
//   std::string id = a.send("node-b", "chat", "<xg:doc .../>");  // buffered until acknowledged
//   a.send("node-b", order);                         // typed: kind "shop.Order", body via message_codec
//   a.flush(5s);                                     // everything sent is now in the hub's store
//   std::optional<envelope> m = a.receive(1s);       // or options.on_message
//
// Reliability: every message stays in the endpoint's buffer until the hub acknowledges it,
// which the hub does after writing it to its store. The endpoint reconnects on its own
// (exponential back-off between reconnect_min and reconnect_max) and resumes its link
// (detail/link.hpp): what the hub did not acknowledge is sent again; the inbox drops what was
// delivered before, so the application sees each message once, in order per sender.
// This holds across hub restarts as long as this endpoint object lives (its inbox is in
// memory). A new process under the same name takes up each sender's stream where it finds
// it (after stream_start_grace): what the previous process received is not repeated, what
// the hub queued for the name meanwhile is delivered, in order.
//
// Errors the hub reports about messages (error frames: buffer_full, spoofed_sender, the
// receiver's type check refusing a body, ...) go to options.on_error (and errors()). After a
// buffer_full for a message to R, later sends to R start a new stream, so that they do
// not wait at R behind the refused one.
//
// Refusal of the login itself (wrong secret, a name the credential may not take) stops the
// endpoint: state() becomes refused, last_error() says why, and send() throws. So does
// the hub ending the session because a newer session took the name (hub.hpp): the two do
// not take the name from each other in turn.
//
// Thread safety: every member may be called from any thread. Callbacks run on the
// endpoint's I/O thread, one at a time; they may call send() (when the buffer is not full)
// but must not call stop() or flush().
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <xgate/channel/envelope.hpp>
#include <xgate/channel/error.hpp>
#include <xgate/channel/frame.hpp>
#include <xgate/channel/message_codec.hpp>
#include <xgate/channel/transport.hpp>

namespace xgate::channel {

struct endpoint_options {
  std::string hub;          // "tcp://HOST:PORT" (ignored when custom_transport is set)
  std::string name;         // the endpoint name (store name rules), e.g. "node-a/worker-1"
  std::string secret;       // the credential token (xgated adduser prints one) ...
  std::string secret_file;  // ... or a file holding it on its first line, mode 0600 (used when secret is "")
  std::shared_ptr<xgate::channel::transport> custom_transport;  // set: used instead of make_transport(hub)
  xgate::channel::transport_options transport_settings;

  std::chrono::milliseconds reconnect_min{50}, reconnect_max{5000};
  // A ping after this long without sending; the connection counts as dead after
  // dead_after without hearing from the hub (then the endpoint reconnects).
  std::chrono::milliseconds heartbeat{5000};
  std::chrono::milliseconds dead_after{15000};
  // A sender's stream first seen mid-way — its earlier messages went to a previous process
  // under this name, e.g. queued at the hub while this program restarted — is taken up from
  // its first message after this long (inbox::adopt_unstarted), rather than waiting forever
  // for a start this process will never see.
  std::chrono::milliseconds stream_start_grace{1000};

  // Messages (and their body bytes) sent but not yet acknowledged by the hub. send() waits
  // up to send_timeout for room, then throws channel_error(buffer_full).
  std::size_t max_unacked = 8192;
  std::size_t max_unacked_bytes = std::size_t{64} << 20;
  std::chrono::milliseconds send_timeout{10000};

  // Delivery. Unset: messages wait for receive() (in memory, without limit).
  std::function<void(envelope)> on_message;
  // Presence: the full list (snapshot) after each login, then changes.
  std::function<void(const frames::presence&)> on_presence;
  std::function<void(const frames::error&)> on_error;
  // Connection state changes (connected after welcome; disconnected; refused).
  std::function<void(bool connected)> on_connection;
};

enum class endpoint_state { stopped, connecting, connected, refused };
const char* to_string(endpoint_state s) noexcept;

class endpoint {
 public:
  // Reads the secret (file) and checks the name; throws channel_error(bad_auth) for a
  // missing secret, (bad_envelope) for a bad name, (protocol) for a bad hub URL.
  explicit endpoint(endpoint_options options);
  ~endpoint();  // stop()
  endpoint(const endpoint&) = delete;
  endpoint& operator=(const endpoint&) = delete;

  // Starts the I/O thread, which connects (and reconnects) in the background. Throws
  // std::system_error when the thread cannot be started.
  void start();
  // Waits up to timeout until logged in; false on timeout. Throws channel_error with the
  // hub's reason when the login was refused.
  [[nodiscard]] bool wait_connected(std::chrono::milliseconds timeout);
  // Stops the I/O thread and closes the connection. Unacknowledged messages are dropped
  // with the object (flush() first to keep them). Idempotent.
  void stop();

  // Sends body (an xml document, carried verbatim) to `to`; returns the message id.
  // Buffered until the hub acknowledges it; waits up to options.send_timeout while the
  // buffer is full, then throws channel_error(buffer_full). Throws (bad_envelope) for a
  // bad receiver name or kind, (frame_too_large) for a body too large for one frame,
  // (bad_auth) after the login was refused.
  std::string send(std::string to, std::string kind, std::string body, std::string correlation = {});
  // A typed body: kind defaults to the type's name; the body is made by message_codec<T>.
  template <class T>
    requires reflected<T>
  std::string send(std::string to, const T& value, std::string kind = std::string(type_name_v<T>),
                   std::string correlation = {}, const message_codec_options& options = {}) {
    envelope e = message_codec<T>(options).make(name(), std::move(to), value, std::move(kind));
    e.correlation = std::move(correlation);
    return send(std::move(e));
  }
  // An envelope made elsewhere (e.g. by a message_codec): from must be "" or this endpoint.
  // Throws channel_error(spoofed_sender) when it names another sender, else as send() above.
  std::string send(envelope e);

  // Messages of this kind must hold a valid T: one that does not is not delivered; the
  // hub logs it ("rejected") and its sender gets error(wrong_body_type or bad_body).
  template <class T>
  void expect(std::string kind = std::string(type_name_v<T>), message_codec_options options = {}) {
    auto codec = std::make_shared<message_codec<T>>(std::move(options));
    add_check(std::move(kind), [codec](const envelope& e) { (void)codec->open(e); });
  }
  void add_check(std::string kind, std::function<void(const envelope&)> check);

  // The next message (when options.on_message is unset); nullopt after timeout.
  [[nodiscard]] std::optional<envelope> receive(std::chrono::milliseconds timeout);

  // Waits until the hub acknowledged everything sent so far; false on timeout.
  [[nodiscard]] bool flush(std::chrono::milliseconds timeout);

  // The next message to `to` starts a new stream. For long-lived senders (relay agents,
  // agent.hpp) whose receiver went offline: if it comes back as a new process, its fresh
  // inbox would hold the old stream's later messages forever, waiting for a start it never saw.
  void restart_stream(const std::string& to);

  // Who is online (from the hub's presence frames), in name order, this endpoint included.
  std::vector<std::string> online() const;
  endpoint_state state() const;
  std::string last_error() const;             // why the last connection failed or was refused
  std::vector<frames::error> errors() const;  // error frames received so far (at most 1000)
  std::size_t unacked() const;                // messages awaiting the hub's acknowledgement
  std::uint64_t reconnects() const;           // connections made after the first
  const std::string& name() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace xgate::channel
