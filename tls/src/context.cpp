#include <xgate/tls/context.hpp>

#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <system_error>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>

#include <xgate/base/secret.hpp>

namespace xgate::tls {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

namespace {

// Mozilla's "intermediate" TLS 1.2 suites: ECDHE key exchange, AEAD ciphers. TLS 1.3 keeps
// OpenSSL's own list (all of it AEAD).
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string openssl_reason() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

ssl::context base_context(ssl::context::method method) {
  ssl::context ctx(method);
  SSL_CTX* c = ctx.native_handle();
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 || SSL_CTX_set_cipher_list(c, tls12_ciphers) != 1)
    throw tls_error(tls_errc::openssl, "context", "policy", openssl_reason());
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  return ctx;
}

void require_file(const std::filesystem::path& file, const char* what) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    throw tls_error(tls_errc::no_file, std::string("load ") + what, file.string(), "no such file");
}

void load_certificate(ssl::context& ctx, const std::filesystem::path& file) {
  require_file(file, "certificate");
  if (SSL_CTX_use_certificate_chain_file(ctx.native_handle(), file.c_str()) != 1)
    throw tls_error(tls_errc::bad_file, "load certificate", file.string(), "not a PEM certificate: " + openssl_reason());
}

void load_key(ssl::context& ctx, const std::filesystem::path& file) {
  require_file(file, "key");
  secret_read_result r = read_secret_bytes(file);
  if (r.problem.empty()) {
    boost::system::error_code ec;
    ctx.use_private_key(asio::buffer(r.value), ssl::context::pem, ec);
    OPENSSL_cleanse(r.value.data(), r.value.size());
    if (ec) throw tls_error(tls_errc::bad_file, "load key", file.string(), "not a PEM private key");
  } else {
    throw tls_error(tls_errc::bad_file, "load key", file.string(), r.problem);
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
    throw tls_error(tls_errc::bad_file, "load key", file.string(), "the key does not match the certificate");
}

void load_ca(ssl::context& ctx, const std::filesystem::path& file) {
  require_file(file, "CA");
  if (SSL_CTX_load_verify_locations(ctx.native_handle(), file.c_str(), nullptr) != 1)
    throw tls_error(tls_errc::bad_file, "load CA", file.string(), "not a PEM certificate: " + openssl_reason());
}

std::filesystem::path from_environment(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? std::filesystem::path(v) : std::filesystem::path();
}

}  // namespace

ssl::context server_context(const server_settings& s) {
  if (s.certificate.empty() || s.key.empty())
    throw tls_error(tls_errc::bad_request, "server context", s.certificate.empty() ? "certificate" : "key",
                    "a server needs both a certificate and its key");
  if (s.require_client_certificate && s.ca.empty())
    throw tls_error(tls_errc::bad_request, "server context", "client certificates",
                    "requiring client certificates needs the CA that signs them");
  ssl::context ctx = base_context(ssl::context::tls_server);
  load_certificate(ctx, s.certificate);
  load_key(ctx, s.key);
  SSL_CTX* c = ctx.native_handle();
  // Resumed sessions must belong to this kind of server (OpenSSL refuses to resume a session
  // with a verified client certificate otherwise).
  static const unsigned char id[] = "xgate";
  SSL_CTX_set_session_id_context(c, id, sizeof id - 1);
  if (!s.ca.empty()) {
    load_ca(ctx, s.ca);
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(s.ca.c_str())) SSL_CTX_set_client_CA_list(c, names);
    ctx.set_verify_mode(ssl::verify_peer | (s.require_client_certificate ? ssl::verify_fail_if_no_peer_cert : 0));
  }
  return ctx;
}

ssl::context client_context(const client_settings& given) {
  client_settings s = given;
  if (s.ca.empty()) s.ca = from_environment("XGATE_CA");
  if (s.certificate.empty() && s.key.empty()) {
    s.certificate = from_environment("XGATE_CERT");
    s.key = from_environment("XGATE_KEY");
    if (s.certificate.empty() != s.key.empty())
      throw tls_error(tls_errc::bad_request, "client context", "XGATE_CERT/XGATE_KEY",
                      "a client certificate needs both XGATE_CERT and XGATE_KEY");
  }
  if (s.certificate.empty() != s.key.empty())
    throw tls_error(tls_errc::bad_request, "client context", s.certificate.empty() ? "certificate" : "key",
                    "a client certificate needs both the certificate and its key");
  ssl::context ctx = base_context(ssl::context::tls_client);
  if (!s.ca.empty()) {
    load_ca(ctx, s.ca);
  } else if (SSL_CTX_set_default_verify_paths(ctx.native_handle()) != 1) {
    throw tls_error(tls_errc::openssl, "client context", "system CA store", openssl_reason());
  }
  if (!s.certificate.empty()) {
    load_certificate(ctx, s.certificate);
    load_key(ctx, s.key);
  }
  ctx.set_verify_mode(ssl::verify_peer);
  return ctx;
}

void expect_host(SSL* ssl, const std::string& host) {
  X509_VERIFY_PARAM* p = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  bool ok = !ec ? X509_VERIFY_PARAM_set1_ip_asc(p, host.c_str()) == 1
                : X509_VERIFY_PARAM_set1_host(p, host.c_str(), host.size()) == 1 &&
                      SSL_set_tlsext_host_name(ssl, host.c_str()) == 1;
  if (!ok) throw tls_error(tls_errc::openssl, "expect host", host, openssl_reason());
}

std::string handshake_failure(const SSL* ssl, const boost::system::error_code& ec) {
  if (ec.category() == asio::error::get_ssl_category()) {
    int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED && ssl) {
      long v = SSL_get_verify_result(ssl);
      std::string why = v != X509_V_OK ? X509_verify_cert_error_string(v) : "certificate verify failed";
      if (v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY || v == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
          v == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN)
        why += " (is --ca or XGATE_CA the CA that signed it?)";
      return "certificate refused: " + why;
    }
    if (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_HTTP_REQUEST || reason == SSL_R_PACKET_LENGTH_TOO_LONG)
      return "not TLS: the other side does not speak TLS here (" + ec.message() + ")";
    if (reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_NO_PROTOCOLS_AVAILABLE ||
        reason == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION)
      return "no protocol in common (" + ec.message() + "): TLS 1.2 is the oldest accepted";
    if (reason == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED || reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
      return "a client certificate is required (" + ec.message() + ")";
    return "TLS handshake failed: " + ec.message();
  }
  if (ec == ssl::error::stream_truncated || ec == asio::error::eof)
    return "the other side closed the connection during the TLS handshake (a client certificate it refused, or not TLS)";
  return "TLS handshake failed: " + ec.message();
}

namespace {

// A socket BIO: the descriptor lives in the BIO's data pointer.
int socket_of(BIO* b) { return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b))); }

int socket_write(BIO* b, const char* data, int size) {
  BIO_clear_retry_flags(b);
  for (;;) {
    ssize_t n = ::send(socket_of(b), data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(b);
    return -1;
  }
}

int socket_read(BIO* b, char* data, int size) {
  BIO_clear_retry_flags(b);
  for (;;) {
    ssize_t n = ::recv(socket_of(b), data, static_cast<std::size_t>(size), 0);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(b);
    return -1;
  }
}

long socket_ctrl(BIO*, int command, long, void*) { return command == BIO_CTRL_FLUSH ? 1 : 0; }

const BIO_METHOD* socket_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "xgate socket");
    if (m) {
      BIO_meth_set_write(m, socket_write);
      BIO_meth_set_read(m, socket_read);
      BIO_meth_set_ctrl(m, socket_ctrl);
    }
    return m;
  }();
  return method;
}

}  // namespace

bool attach_socket(SSL* ssl, int fd) noexcept {
  const BIO_METHOD* method = socket_method();
  BIO* b = method ? BIO_new(method) : nullptr;
  if (!b) return false;
  BIO_set_data(b, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
  BIO_set_init(b, 1);
  SSL_set_bio(ssl, b, b);  // the SSL owns it from here
  return true;
}

bool is_plain_http(const boost::system::error_code& ec) noexcept {
  return ec.category() == asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST;
}

std::string peer_common_name(const SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert || SSL_get_verify_result(ssl) != X509_V_OK) return {};
  X509_NAME* subject = X509_get_subject_name(cert);
  int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (i < 0) return {};
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

server_contexts::server_contexts(server_settings settings, std::function<void(ssl::context&)> adjust)
    : settings_(std::move(settings)), adjust_(std::move(adjust)) {
  reload();
}

void server_contexts::reload() {
  ssl::context fresh = server_context(settings_);
  if (adjust_) adjust_(fresh);
  std::lock_guard lock(mutex_);
  loaded_.push_back(std::move(fresh));
  current_.store(&loaded_.back());
}

}  // namespace xgate::tls
