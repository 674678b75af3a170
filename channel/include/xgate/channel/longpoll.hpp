// The HTTP long-poll transport, for networks that only let HTTP requests out.
//
// A long-poll session stands in for a TCP connection: an in-order, exactly-once stream of
// frames each way, made of HTTP/1.1 POST requests and their responses, which may go
// through an ordinary HTTP forward proxy.
//
// Wire (every request: POST PATH, Content-Type: application/x-xgate-bundle):
//   request headers   X-Xgate-Session  the session id (absent: open a new session)
//                     X-Xgate-Seq      the session seq of the body's first frame
//                     X-Xgate-Ack      the highest hub seq received in order
//                     X-Xgate-Seen     the highest response number received
//                     X-Xgate-Resend   "1": a response may have been lost, send again what
//                                      I have not acknowledged
//                     X-Xgate-Wait     how long the hub may hold this request (ms)
//                     X-Xgate-Close    "1": the endpoint is leaving; end the session
//   request body      encode_bundle(frames) (frame.hpp)
//   response headers  X-Xgate-Session, X-Xgate-Seq, X-Xgate-Ack (the endpoint's seq the hub
//                     has), X-Xgate-Response (this response's number), X-Xgate-Closed ("1":
//                     the hub closed the session after these frames)
//   response body     encode_bundle(frames)
// Status 404 (with X-Xgate-Error) answers an unknown session: the hub restarted or
// closed it; the endpoint then logs in again and resumes (detail/link.hpp). 400 answers bytes
// that are not a bundle, after which the hub closes the session.
//
// The session id is 128 random bits from the hub, handed out in the response that opens
// the session; it is not a secret (the endpoint authenticates inside the session, with
// the frames of detail/auth.hpp) and never derived from one.
//
// Reliability within a session: frames are numbered per direction (go-back-N, like
// detail/link.hpp's link streams; frames of any kind, not only messages). A receiver takes only
// the next seq. The hub holds a request until it has frames to send, a second request of
// the session arrives, or the wait passes; it works out what the endpoint lost from its
// acknowledgement (lower than the last frame of a response it has seen) or the endpoint's
// resend flag, and sends that again. The endpoint sends a request when a response
// arrives, when it has frames and its bundle is full or has lingered, or after a failed
// request (then with resend, and again whatever it has not seen acknowledged). A
// duplicated request costs nothing (its frames are duplicates), a dropped response one
// resend, a session the hub forgot a new login.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <xgate/channel/hub.hpp>
#include <xgate/tls/context.hpp>
#include <xgate/channel/transport.hpp>

namespace xgate::channel {

struct longpoll_server_options {
  std::string address = "127.0.0.1";  // IPv4 or IPv6 address to listen on
  unsigned short port = 0;            // 0: a free port, see longpoll_hub_server::port()
  std::string path = "/channel";      // where the sessions are served
  // The longest the hub holds a request (an endpoint may ask for less).
  std::chrono::milliseconds max_hold{20000};
  // A session without any request for this long is closed (the endpoint went away).
  std::chrono::milliseconds session_timeout{60000};
  // The most a response carries (the endpoint's transport_options bound its requests).
  std::size_t bundle_frames = 256;
  std::size_t bundle_bytes = std::size_t{1} << 20;
  // Request bodies beyond this are refused (413) before they are read.
  std::size_t max_request = std::size_t{64} << 20;
  // Each HTTP connection has its own thread (a held request waits on it); past this many
  // new connections wait in the kernel's backlog.
  std::size_t max_connections = 1024;
  // HTTPS when tls.certificate is set (url() is then https://); see tcp_server_options::tls.
  xgate::tls::server_settings tls;
};

// The hub's long-poll HTTP endpoint: each session is one hub_connection.
//
//   xgate::channel::longpoll_hub_server http(h, {.port = 0});
//   http.start();
//   std::cout << "hub-http: " << http.url() << "\n";   // http://127.0.0.1:PORT
class longpoll_hub_server {
 public:
  // The hub must outlive the server.
  longpoll_hub_server(hub& h, longpoll_server_options options = {});
  ~longpoll_hub_server();  // stop()
  longpoll_hub_server(const longpoll_hub_server&) = delete;
  longpoll_hub_server& operator=(const longpoll_hub_server&) = delete;

  // Binds, listens and serves on background threads. Throws std::system_error when the
  // address cannot be bound, std::logic_error when called twice.
  void start();
  unsigned short port() const noexcept;  // the chosen port for port 0; 0 before start()
  std::string url() const;               // "http://ADDRESS:PORT" (endpoints add the path)
  std::size_t sessions() const;          // open now
  // With TLS: reads options.tls's files again for the connections accepted from now on;
  // tls_error when they cannot be used (the old ones stay). Without TLS: nothing.
  void reload_tls();
  // Answers held requests, closes every session and connection, joins the threads. Idempotent.
  void stop();

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

// The endpoint's side. What transport_options does not say.
struct longpoll_options {
  // A forward proxy, "http://HOST:PORT": requests then go to it with absolute URIs (for an
  // https:// hub, through a CONNECT tunnel, so the proxy sees only TLS). Empty:
  // the http_proxy (or HTTP_PROXY) environment variable, unless no_proxy (NO_PROXY) names
  // the hub's host ("*", a host, or a domain suffix); "-" or "none": never a proxy.
  std::string http_proxy;
  // Frames waiting while a request is already out are sent in a second request once they
  // fill a bundle or have waited this long.
  std::chrono::milliseconds linger{1};
  // How long beyond its hold a request may take before it counts as lost.
  std::chrono::milliseconds request_grace{5000};
  // Requests failing for this long (no response at all): the session counts as lost.
  std::chrono::milliseconds give_up_after{30000};
  std::size_t max_requests = 2;  // requests in flight at once (at least 2)
};

// "http://HOST:PORT[/PATH]" or "https://HOST:PORT[/PATH]" (PATH defaults to /channel).
// transport_options.poll_timeout is how long the hub may hold a request; bundle_frames /
// bundle_bytes bound a request's frames; tls is for https://. Throws channel_error(protocol)
// for a malformed URL or proxy, xgate::error(net_errc::insecure) when tls's files cannot be
// used; connect() throws xgate::error(net_errc::insecure) when TLS refuses the hub.
[[nodiscard]] std::unique_ptr<transport> make_http_transport(std::string_view url, const transport_options& options = {},
                                               longpoll_options lp = {});

}  // namespace xgate::channel
