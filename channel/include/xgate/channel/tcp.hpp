// The hub's TCP transport: length-prefixed frames (frame.hpp) on TCP, or on TLS over TCP
// when the server has a certificate (tcp_server_options::tls; Boost.Asio over OpenSSL).
// Each accepted socket is one hub_connection. A connection whose bytes are not frames (a
// bad kind or field, a length prefix beyond the maximum frame) gets error(code, reason),
// a log entry, and is closed; the server keeps serving the others. Until a connection logs
// in, its frames may be at most hub_options::max_frame_before_login bytes and it reads
// through a small buffer, so connections that never log in cost little memory.
//
//   xgate::channel::hub h(store, {.context = "xgated hub@127.0.0.1:4711"});
//   xgate::channel::tcp_hub_server server(h, {.address = "127.0.0.1", .port = 0});
//   server.start();
//   std::cout << "hub: " << server.url() << "\n";   // tcp://127.0.0.1:PORT (tls:// with TLS)
//
// The endpoint's side is make_tcp_transport (transport.hpp), used by endpoint for
// "tcp://" and "tls://" hub URLs.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <xgate/channel/hub.hpp>
#include <xgate/tls/context.hpp>

namespace xgate::channel {

struct tcp_server_options {
  std::string address = "127.0.0.1";  // IPv4 or IPv6 address to listen on
  unsigned short port = 0;            // 0: a free port, see tcp_hub_server::port()
  unsigned threads = 1;               // I/O threads
  std::size_t max_connections = 4096; // beyond: accepted and closed at once
  // TLS when tls.certificate is set (url() is then tls://). With tls.ca and
  // tls.require_client_certificate, only clients with a certificate signed by that CA
  // connect; they still log in with their endpoint's secret.
  xgate::tls::server_settings tls;
  std::chrono::milliseconds handshake_timeout{10000};  // a TLS handshake not done by then is closed
};

// A listen address as flags give it: "127.0.0.1:8080", "[::1]:8080" (port 0: a free one).
// False, leaving address and port unspecified, for anything else.
[[nodiscard]] bool parse_listen(const std::string& text, std::string& address, unsigned short& port);

class tcp_hub_server {
 public:
  // The hub must outlive the server.
  tcp_hub_server(hub& h, tcp_server_options options = {});
  ~tcp_hub_server();  // stop()
  tcp_hub_server(const tcp_hub_server&) = delete;
  tcp_hub_server& operator=(const tcp_hub_server&) = delete;

  // Binds, listens and serves on background threads. Throws std::system_error when the
  // address cannot be bound, xgate::tls::tls_error when options.tls's files cannot be used,
  // std::logic_error when called twice.
  void start();
  unsigned short port() const noexcept;  // the chosen port for port 0; 0 before start()
  std::string url() const;               // "tcp://ADDRESS:PORT" or "tls://ADDRESS:PORT"
  // With TLS: reads options.tls's files again for the connections accepted from now on;
  // tls_error when they cannot be used (the old ones stay). Without TLS: nothing.
  void reload_tls();
  // Closes the listener and every connection and joins the threads. Idempotent.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace xgate::channel
