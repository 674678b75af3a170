// TLS contexts for xgate's servers and clients (Boost.Asio's ssl::context over OpenSSL), with
// one policy everywhere: TLS 1.2 at least (1.3 preferred, as OpenSSL negotiates), forward-
// secret AEAD cipher suites only (Mozilla's "intermediate"), no compression, no renegotiation,
// session resumption on (a reconnecting client skips the full handshake).
//
//   auto server = xgate::tls::server_context({.certificate = "certs/node-a.crt",
//                                             .key = "certs/node-a.key"});
//   auto client = xgate::tls::client_context({.ca = "certs/ca.crt"});
//   boost::asio::ssl::stream<tcp::socket> s(ioc, client);
//   xgate::tls::expect_host(s.native_handle(), "node-a.example");  // SNI + name check
//
// Key files are read like every secret: refused when users other than the owner may read
// them. Errors: tls_error (error.hpp) naming the file.
#pragma once

#include <atomic>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

#include <xgate/tls/error.hpp>

namespace xgate::tls {

struct server_settings {
  std::filesystem::path certificate;  // PEM: the server's certificate, then any intermediates
  std::filesystem::path key;          // PEM private key, mode 0600
  // PEM CA certificates that client certificates are checked against. With it, a client that
  // presents a certificate must present a valid one; see require_client_certificate.
  std::filesystem::path ca;
  // Mutual TLS: a client without a certificate signed by ca is refused in the handshake.
  // Needs ca.
  bool require_client_certificate = false;
};

struct client_settings {
  // PEM CA certificates the server's certificate is checked against. Empty: the file named
  // by the XGATE_CA environment variable if it is set, else the system's CA store.
  std::filesystem::path ca;
  // A client certificate and its key (mode 0600), for servers that require one. Both or
  // neither. Empty: the files named by XGATE_CERT and XGATE_KEY if both are set.
  std::filesystem::path certificate, key;
};

// Throws tls_error: bad_request (a key without a certificate or the reverse;
// require_client_certificate without ca), no_file, bad_file (not PEM; a key that does not
// match the certificate; a key others may read), openssl.
[[nodiscard]] boost::asio::ssl::context server_context(const server_settings& settings);
[[nodiscard]] boost::asio::ssl::context client_context(const client_settings& settings = {});

// A server's context that a reload (SIGHUP, after certificates were renewed) replaces: each
// connection takes current() when it is accepted and keeps that context; earlier contexts
// stay alive, for the connections using them, until this object goes. Thread-safe.
class server_contexts {
 public:
  // Loads the first; throws what server_context throws. adjust, when given, is applied to
  // every context loaded (a server's own options).
  explicit server_contexts(server_settings settings,
                           std::function<void(boost::asio::ssl::context&)> adjust = nullptr);
  [[nodiscard]] boost::asio::ssl::context* current() const noexcept { return current_.load(); }
  // Reads the files again. On a tls_error the current context stays, and the error is thrown.
  void reload();

 private:
  server_settings settings_;
  std::function<void(boost::asio::ssl::context&)> adjust_;
  std::mutex mutex_;
  std::deque<boost::asio::ssl::context> loaded_;  // a deque: a context never moves once made
  std::atomic<boost::asio::ssl::context*> current_{nullptr};
};

// Before a client handshake on ssl: sends host as the server name (SNI) when it is a DNS name,
// and makes the handshake fail unless the server's certificate is for host (a subjectAltName
// DNS name or IP address). Throws tls_error(openssl) when OpenSSL refuses host.
void expect_host(SSL* ssl, const std::string& host);

// One line for why a handshake on ssl failed with ec, for a message that also names the URL:
//   "certificate refused: certificate has expired"
//   "certificate refused: hostname mismatch"
//   "certificate refused: unable to get local issuer certificate (is --ca the CA that signed it?)"
//   "not TLS: the other side does not speak TLS here (wrong version number)"
//   "no protocol in common (unsupported protocol): TLS 1.2 is the oldest accepted"
[[nodiscard]] std::string handshake_failure(const SSL* ssl, const boost::system::error_code& ec);

// True when a server's handshake failed because the client sent plain HTTP: such a client can
// still be told in plain HTTP to use https://.
[[nodiscard]] bool is_plain_http(const boost::system::error_code& ec) noexcept;

// The common name of the certificate the peer presented and the handshake verified; empty
// when there is none.
[[nodiscard]] std::string peer_common_name(const SSL* ssl);

// SSL_set_fd for code that drives OpenSSL on a raw socket, except that writing to a peer that
// has gone never raises SIGPIPE (OpenSSL's own socket BIO uses write(2), which would kill
// the process; this one sends with MSG_NOSIGNAL, as every other socket write in xgate does).
// False when OpenSSL cannot allocate the BIO.
[[nodiscard]] bool attach_socket(SSL* ssl, int fd) noexcept;

// Owners of OpenSSL objects, for code that drives OpenSSL directly (a session kept for
// resumption, an SSL over a raw socket).
struct openssl_free {
  void operator()(SSL* s) const noexcept { SSL_free(s); }
  void operator()(SSL_SESSION* s) const noexcept { SSL_SESSION_free(s); }
};
using ssl_ptr = std::unique_ptr<SSL, openssl_free>;
using session_ptr = std::unique_ptr<SSL_SESSION, openssl_free>;

}  // namespace xgate::tls
