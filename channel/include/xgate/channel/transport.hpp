// The endpoint's side of a transport: how frames get from an endpoint to the hub and back.
//
// The endpoint keeps all delivery state (link, inbox, stamper, credential); a transport
// only moves frames and knows nothing about messages. That is what lets TCP and HTTP
// long-poll sit behind the same endpoint:
//   - TCP: one socket per connection; send() writes length-prefixed frames, receive()
//     reads them.
//   - HTTP long-poll: a "connection" is a virtual session. send() adds frames to the
//     bundle the next request carries (a full bundle starts a request at once);
//     receive() hands out the frames of the responses that came back. Requests, bundles,
//     poll timeouts and resending requests that failed are the transport's business; a
//     session the hub no longer knows is reported as a lost connection, after which the
//     endpoint reconnects and resumes (link::resume), so nothing acknowledged is lost.
//
// Threading: the endpoint's I/O thread is the only caller of send() and receive() on a
// connection; wake() and close() may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <xgate/channel/frame.hpp>
#include <xgate/tls/context.hpp>

namespace xgate::channel {

struct transport_options {
  std::size_t max_frame = default_max_frame;
  std::chrono::milliseconds connect_timeout{5000};
  // Long-poll only (ignored by TCP): how long the hub may hold a poll request, and how
  // many frames / bytes a request's bundle carries before it is sent without waiting.
  std::chrono::milliseconds poll_timeout{20000};
  std::size_t bundle_frames = 256;
  std::size_t bundle_bytes = std::size_t{1} << 20;
  // For tls:// (and https:// long-poll): the CA the hub's certificate must chain to (empty:
  // $XGATE_CA, else the system's store) and an optional client certificate. A certificate
  // refused, or no protocol in common, throws xgate::error(net_errc::insecure) from
  // connect(); an endpoint then stops trying (endpoint_state::refused).
  xgate::tls::client_settings tls;
};

// One connection (or long-poll session) to the hub. Destroying it closes it.
class connection {
 public:
  virtual ~connection() = default;
  // Hands frames to the transport to deliver in order. May block briefly (a full socket
  // buffer); throws channel_error or std::system_error when the connection is lost.
  virtual void send(std::vector<frame> frames) = 0;
  // Waits up to timeout for frames from the hub and returns every frame that arrived, in
  // order; empty when the timeout passed or wake() was called. Throws channel_error
  // (bad_frame, frame_too_large: the hub sent garbage) or std::system_error (the
  // connection was lost or closed; EOF is std::errc::connection_reset).
  [[nodiscard]] virtual std::vector<frame> receive(std::chrono::milliseconds timeout) = 0;
  // Makes a waiting (or the next) receive() return at once. Thread-safe.
  virtual void wake() = 0;
  // Closes; a waiting receive() throws. Thread-safe, idempotent.
  virtual void close() noexcept = 0;
  // "tcp://127.0.0.1:4711" etc., for error messages and logs.
  virtual std::string description() const = 0;
};

// Opens connections to one hub. connect() blocks up to options.connect_timeout and throws
// channel_error or std::system_error when the hub cannot be reached.
class transport {
 public:
  virtual ~transport() = default;
  [[nodiscard]] virtual std::unique_ptr<connection> connect() = 0;
  virtual std::string description() const = 0;  // the hub URL
};

// The transport for a hub URL: "tcp://HOST:PORT", "tls://HOST:PORT" (TCP in TLS), or
// "http://HOST:PORT[/PATH]" for HTTP
// long-poll (longpoll.hpp; a proxy from the http_proxy environment variable). Several hubs
// on one store (replicas): their URLs separated by commas, "tcp://a:4711,tcp://b:4711";
// connect() tries them in turn, starting with the one that answered last, and throws
// std::system_error(host_unreachable) naming each failure when none answers. Throws
// channel_error(protocol) naming the URL for an unknown scheme or a malformed address. (New schemes: add them in channel/src/transport.cpp.)
[[nodiscard]] std::unique_ptr<transport> make_transport(std::string_view url, const transport_options& options = {});

// TCP: "tcp://HOST:PORT", "tls://HOST:PORT" or "HOST:PORT" (see tcp.hpp for the hub's side). Throws
// channel_error(protocol) naming the URL for a malformed address.
[[nodiscard]] std::unique_ptr<transport> make_tcp_transport(std::string_view url, const transport_options& options = {});

}  // namespace xgate::channel
