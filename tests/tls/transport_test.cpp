// TLS on the transports, between real sockets in one process: xgated's HTTP server and the
// http_session client, the hub's TCP transport and endpoints, with certificates from
// xgate::tls's CA; what a recording proxy sees with TLS on and off; and each refusal with its
// one line: wrong CA, expired certificate, wrong host, plain HTTP to the TLS port and the
// reverse, TLS 1.0/1.1 offered, a key others may read, mutual TLS without a certificate.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <xgate/channel/endpoint.hpp>
#include <xgate/channel/hub.hpp>
#include <xgate/channel/longpoll.hpp>
#include <xgate/channel/tcp.hpp>
#include <xgate/client/http_session.hpp>
#include <xgate/server/http_server.hpp>
#include <xgate/store/error.hpp>
#include <xgate/store/store.hpp>
#include <xgate/tls/certs.hpp>
#include <xgate/tls/context.hpp>

#include "files.hpp"
#include "recording_proxy.hpp"
#include "test_dir.hpp"
#include "tinyproxy.hpp"  // tests/channel

namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using xgate::client::client_error;
using xgate::client::client_options;

// A server certificate signed by dir's CA that expired yesterday (xgate certs cannot make
// one: it refuses validities in the past).
void issue_expired(const fs::path& dir, const std::string& name) {
  auto read_pem = [](const fs::path& p, auto reader) {
    std::string pem = xgate::testing::read_file(p);
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    auto* x = reader(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    return x;
  };
  X509* ca = read_pem(dir / "ca.crt", PEM_read_bio_X509);
  EVP_PKEY* ca_key = read_pem(dir / "ca.key", PEM_read_bio_PrivateKey);
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
  X509_gmtime_adj(X509_getm_notBefore(x), -2 * 86400);
  X509_gmtime_adj(X509_getm_notAfter(x), -86400);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(name.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(ca));
  X509_set_pubkey(x, key);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca, x, nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  X509_add_ext(x, san, -1);
  X509_EXTENSION_free(san);
  X509_sign(x, ca_key, EVP_sha256());
  FILE* f = std::fopen((dir / (name + ".crt")).c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen((dir / (name + ".key")).c_str(), "w");
  ::chmod((dir / (name + ".key")).c_str(), 0600);
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  X509_free(ca);
  EVP_PKEY_free(key);
  EVP_PKEY_free(ca_key);
}

// A log the server writes from its threads while the test reads it.
class shared_log : public std::streambuf {
 public:
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }

 protected:
  int overflow(int c) override {
    if (c != traits_type::eof()) {
      std::lock_guard lock(mutex_);
      text_.push_back(static_cast<char>(c));
    }
    return c;
  }
  std::streamsize xsputn(const char* p, std::streamsize n) override {
    std::lock_guard lock(mutex_);
    text_.append(p, static_cast<std::size_t>(n));
    return n;
  }

 private:
  std::mutex mutex_;
  std::string text_;
};

template <class F>
client_error catch_client_error(F&& f) {
  try {
    f();
  } catch (const client_error& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected a client_error, got: " << e.what();
  }
  ADD_FAILURE() << "expected a client_error";
  return client_error(xgate::net_errc::bad_response, "(none)", "(none)");
}

class Tls : public ::testing::Test {
 protected:
  fs::path dir = xgate::store::testing::fresh_dir();
  fs::path certs = dir / "certs";
  std::unique_ptr<xgate::store::store> st;
  shared_log log_text;
  std::ostream log{&log_text};
  xgate::logger logger{log};
  std::unique_ptr<xgate::server::http_server> server;

  void SetUp() override {
    xgate::tls::create_ca(certs);
    xgate::tls::issue(certs, "node", {.hosts = {"localhost", "127.0.0.1"}});
    st = std::make_unique<xgate::store::store>(dir / "data");
  }
  void TearDown() override {
    server.reset();
    st.reset();
    fs::remove_all(dir);
  }

  xgate::tls::server_settings node_tls() const { return {.certificate = certs / "node.crt", .key = certs / "node.key"}; }
  client_options trusting(const fs::path& ca) const {
    client_options o;
    o.tls.ca = ca;
    o.connect_timeout = 5s;
    o.request_timeout = 10s;
    return o;
  }
  // An xgated HTTP server on 127.0.0.1; TLS with settings when they name a certificate.
  std::string serve(xgate::tls::server_settings tls) {
    xgate::server::server_options o;
    o.threads = 2;
    o.store_threads = 4;
    o.log = &logger;
    o.tls = std::move(tls);
    server = std::make_unique<xgate::server::http_server>(*st, o);
    server->start();
    return server->url();
  }
  std::string token(const std::string& principal) {
    xgate::store::credential_request r;
    r.scope = "";
    r.rights = xgate::store::right_set::all();
    return st->issue_credential(xgate::store::caller(principal), r);
  }
  std::string port_of(const std::string& url) const { return url.substr(url.rfind(':') + 1); }
};

TEST_F(Tls, HttpsCarriesTheApiAndTheClientVerifiesTheServer) {
  std::string url = serve(node_tls());
  ASSERT_EQ(url, "https://127.0.0.1:" + port_of(url));
  std::string alice = token("alice");
  auto s = xgate::client::http_session(url, alice, trusting(certs / "ca.crt"));
  s->write("notes/a", "<note>over TLS</note>");
  EXPECT_EQ(s->read("notes/a").xml, "<note>over TLS</note>");
  EXPECT_EQ(s->principal(), "alice");
  // by host name as well as by address: the certificate names both
  auto by_name = xgate::client::http_session("https://localhost:" + port_of(url), alice, trusting(certs / "ca.crt"));
  EXPECT_EQ(by_name->read("notes/a").xml, "<note>over TLS</note>");
}

TEST_F(Tls, AServerCertificateFromAnotherCaIsRefused) {
  std::string url = serve(node_tls());
  xgate::tls::create_ca(dir / "other");
  auto s = xgate::client::http_session(url, token("alice"), trusting(dir / "other" / "ca.crt"));
  client_error e = catch_client_error([&] { s->read("notes/a"); });
  EXPECT_EQ(e.code(), xgate::net_errc::insecure);
  EXPECT_FALSE(e.retryable());
  EXPECT_STREQ(e.what(), (url + "/store/notes/a: TLS handshake: certificate refused: unable to get local issuer certificate "
                                "(is --ca or XGATE_CA the CA that signed it?)")
                             .c_str());
  // the system's store does not know our CA either
  auto system = xgate::client::http_session(url, token("alice"), {});
  EXPECT_EQ(catch_client_error([&] { system->read("notes/a"); }).code(), xgate::net_errc::insecure);
}

TEST_F(Tls, AnExpiredServerCertificateIsRefused) {
  issue_expired(certs, "old");
  std::string url = serve({.certificate = certs / "old.crt", .key = certs / "old.key"});
  auto s = xgate::client::http_session(url, token("alice"), trusting(certs / "ca.crt"));
  client_error e = catch_client_error([&] { s->read("a"); });
  EXPECT_EQ(e.code(), xgate::net_errc::insecure);
  EXPECT_STREQ(e.what(), (url + "/store/a: TLS handshake: certificate refused: certificate has expired").c_str());
}

TEST_F(Tls, ACertificateForAnotherHostIsRefused) {
  xgate::tls::issue(certs, "elsewhere", {.hosts = {"node-b.example", "10.9.8.7"}});
  std::string url = serve({.certificate = certs / "elsewhere.crt", .key = certs / "elsewhere.key"});
  auto by_address = xgate::client::http_session(url, token("alice"), trusting(certs / "ca.crt"));
  client_error e = catch_client_error([&] { by_address->read("a"); });
  EXPECT_EQ(e.code(), xgate::net_errc::insecure);
  EXPECT_STREQ(e.what(), (url + "/store/a: TLS handshake: certificate refused: IP address mismatch").c_str());
  std::string named = "https://localhost:" + port_of(url);
  auto by_name = xgate::client::http_session(named, token("alice"), trusting(certs / "ca.crt"));
  e = catch_client_error([&] { by_name->read("a"); });
  EXPECT_STREQ(e.what(), (named + "/store/a: TLS handshake: certificate refused: hostname mismatch").c_str());
}

TEST_F(Tls, PlainHttpToTheTlsPortIsToldToUseHttpsAndTheReverseFailsTheHandshake) {
  std::string url = serve(node_tls());
  std::string plain = "http://127.0.0.1:" + port_of(url);
  auto s = xgate::client::http_session(plain, token("alice"), trusting(certs / "ca.crt"));
  client_error e = catch_client_error([&] { s->read("a"); });
  EXPECT_EQ(e.code(), xgate::net_errc::bad_response);
  EXPECT_EQ(e.http_status(), 400);
  EXPECT_STREQ(e.what(), (plain + "/store/a: read: HTTP 400 bad_request: this server speaks TLS: use https://").c_str());
  server.reset();
  EXPECT_NE(log_text.text().find(": plain HTTP on the TLS port: answered 400 (use https://)\n"), std::string::npos)
      << log_text.text();

  std::string clear = serve({});
  std::string tls_to_clear = "https://127.0.0.1:" + port_of(clear);
  auto t = xgate::client::http_session(tls_to_clear, token("alice"), trusting(certs / "ca.crt"));
  e = catch_client_error([&] { t->read("a"); });
  EXPECT_EQ(e.code(), xgate::net_errc::insecure);
  EXPECT_STREQ(e.what(), (tls_to_clear + "/store/a: TLS handshake: not TLS: the other side does not speak TLS here "
                                         "(wrong version number (SSL routines))")
                             .c_str());
}

// A client that offers only TLS 1.0 or 1.1 (as old libraries do) gets no handshake, and the
// server's log says why.
TEST_F(Tls, TlsOneZeroAndOneOneAreRefused) {
  std::string url = serve(node_tls());
  auto port = static_cast<unsigned short>(std::stoi(port_of(url)));
  for (int version : {TLS1_VERSION, TLS1_1_VERSION}) {
    asio::io_context ioc;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    SSL_CTX_set_security_level(ctx.native_handle(), 0);  // OpenSSL 3 refuses them itself otherwise
    SSL_CTX_set_min_proto_version(ctx.native_handle(), version);
    SSL_CTX_set_max_proto_version(ctx.native_handle(), version);
    ctx.set_verify_mode(asio::ssl::verify_none);
    asio::ssl::stream<asio::ip::tcp::socket> s(ioc, ctx);
    s.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    boost::system::error_code ec;
    s.handshake(asio::ssl::stream_base::client, ec);
    EXPECT_TRUE(ec) << "TLS version " << std::hex << version << " was accepted";
  }
  // The server notes each refusal once its handshake has failed, which may be after ours.
  const std::string note = ": no protocol in common (unsupported protocol (SSL routines)): TLS 1.2 is the oldest accepted\n";
  auto notes = [&] {
    std::string l = log_text.text();
    std::size_t n = 0;
    for (std::size_t at = l.find(note); at != std::string::npos; at = l.find(note, at + 1)) ++n;
    return n;
  };
  for (auto until = std::chrono::steady_clock::now() + 10s; notes() < 2 && std::chrono::steady_clock::now() < until;)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(notes(), 2u) << log_text.text();
}

TEST_F(Tls, AKeyOthersMayReadIsRefused) {
  ::chmod((certs / "node.key").c_str(), 0644);
  xgate::server::server_options o;
  o.tls = node_tls();
  xgate::server::http_server s(*st, o);
  try {
    s.start();
    ADD_FAILURE() << "started with a world-readable key";
  } catch (const xgate::tls::tls_error& e) {
    EXPECT_EQ(e.reason(), xgate::tls::tls_errc::bad_file);
    std::string key = (certs / "node.key").string();
    EXPECT_STREQ(e.what(), ("tls: load key \"" + key + "\": secret file \"" + key + "\" may be read by others (mode 0644): chmod 600 " + key)
                               .c_str());
  }
}

// Mutual TLS: the client certificate's common name is the principal; a token, if sent, must
// be that principal's; no certificate, no connection.
TEST_F(Tls, MutualTlsTakesTheCertificatesCommonNameForThePrincipal) {
  xgate::tls::issue(certs, "alice", {.client = true});
  std::string url = serve({.certificate = certs / "node.crt", .key = certs / "node.key", .ca = certs / "ca.crt",
                           .require_client_certificate = true});
  client_options with_cert = trusting(certs / "ca.crt");
  with_cert.tls.certificate = certs / "alice.crt";
  with_cert.tls.key = certs / "alice.key";
  auto s = xgate::client::http_session(url, "", with_cert);
  EXPECT_EQ(s->principal(), "alice");
  s->write("alice/doc", "<d/>");
  EXPECT_EQ(s->read("alice/doc").xml, "<d/>");

  auto with_bobs_token = xgate::client::http_session(url, token("bob"), with_cert);
  auto refused = xgate::store::testing::catch_store_error([&] { with_bobs_token->read("alice/doc"); });
  EXPECT_EQ(refused.reason(), xgate::store::store_errc::bad_credential);
  EXPECT_NE(std::string(refused.what()).find("the token is bob's but the client certificate is alice's"), std::string::npos)
      << refused.what();

  auto without = xgate::client::http_session(url, token("alice"), trusting(certs / "ca.crt"));
  client_error e = catch_client_error([&] { without->read("alice/doc"); });
  EXPECT_EQ(e.code(), xgate::net_errc::insecure);
  EXPECT_NE(std::string(e.what()).find("a client certificate is required"), std::string::npos) << e.what();
}

// What a recording proxy between client and server sees: with TLS neither the token nor a
// document body; without it, both.
TEST_F(Tls, ACaptureOfTheTrafficHoldsNoTokenOrBodyWithTls) {
  const std::string body = "<payroll>SECRET-SALARY-4711</payroll>";
  std::string alice = token("alice");
  for (bool tls : {false, true}) {
    std::string url = serve(tls ? node_tls() : xgate::tls::server_settings{});
    xgate::testing::recording_proxy proxy(static_cast<unsigned short>(std::stoi(port_of(url))));
    std::string via = (tls ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(proxy.port());
    auto s = xgate::client::http_session(via, alice, trusting(certs / "ca.crt"));
    s->write("hr/payroll", body);
    EXPECT_EQ(s->read("hr/payroll").xml, body);
    s.reset();
    proxy.stop();
    std::string seen = proxy.captured();
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.find(alice) != std::string::npos, !tls) << (tls ? "the token travelled in the clear over TLS" : "no token");
    EXPECT_EQ(seen.find("SECRET-SALARY-4711") != std::string::npos, !tls);
    server.reset();
  }
}

// ---- the hub's TCP transport ------------------------------------------------------------

// Whether the endpoint stops trying within 10 s (endpoint_state::refused).
bool gives_up(const xgate::channel::endpoint& e) {
  for (auto until = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(10ms))
    if (e.state() == xgate::channel::endpoint_state::refused) return true;
  return false;
}

class TlsHub : public Tls {
 protected:
  std::unique_ptr<xgate::channel::hub> h;
  std::unique_ptr<xgate::channel::tcp_hub_server> hub_server;
  std::unique_ptr<xgate::channel::longpoll_hub_server> longpoll;
  std::ostringstream hub_log;
  xgate::logger hub_logger{hub_log};

  void TearDown() override {
    if (longpoll) longpoll->stop();
    longpoll.reset();
    if (hub_server) hub_server->stop();
    if (h) h->stop();
    hub_server.reset();
    h.reset();
    Tls::TearDown();
  }
  std::string serve_hub(xgate::tls::server_settings tls) {
    h = std::make_unique<xgate::channel::hub>(*st, xgate::channel::hub_options{.context = "tls test hub", .log = &hub_logger});
    hub_server = std::make_unique<xgate::channel::tcp_hub_server>(
        *h, xgate::channel::tcp_server_options{.address = "127.0.0.1", .port = 0, .tls = std::move(tls)});
    hub_server->start();
    return hub_server->url();
  }
  xgate::channel::endpoint_options endpoint(const std::string& hub, const std::string& name, const fs::path& ca) {
    xgate::channel::endpoint_options o;
    o.hub = hub;
    o.name = name;
    o.secret = token(name);
    o.reconnect_min = 10ms;
    o.reconnect_max = 200ms;
    o.transport_settings.tls.ca = ca;
    return o;
  }
};

TEST_F(TlsHub, EndpointsTalkThroughTheHubOverTls) {
  std::string url = serve_hub(node_tls());
  ASSERT_EQ(url, "tls://127.0.0.1:" + port_of(url));
  xgate::channel::endpoint a(endpoint(url, "alice", certs / "ca.crt"));
  xgate::channel::endpoint b(endpoint(url, "bob", certs / "ca.crt"));
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(10s)) << a.last_error();
  ASSERT_TRUE(b.wait_connected(10s)) << b.last_error();
  for (int i = 0; i < 100; ++i) a.send("bob", "chat", "<n>" + std::to_string(i) + "</n>");
  for (int i = 0; i < 100; ++i) {
    auto m = b.receive(10s);
    ASSERT_TRUE(m) << i;
    EXPECT_EQ(m->body, "<n>" + std::to_string(i) + "</n>");
  }
  b.send("alice", "chat", std::string(200000, 'x').insert(0, "<big>").append("</big>"));  // many TLS records
  auto big = a.receive(10s);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->body.size(), 200000u + 11);
}

TEST_F(TlsHub, AnEndpointGivesUpOnAHubWhoseCertificateItRefuses) {
  std::string url = serve_hub(node_tls());
  xgate::tls::create_ca(dir / "other");
  xgate::channel::endpoint a(endpoint(url, "alice", dir / "other" / "ca.crt"));
  a.start();
  EXPECT_TRUE(gives_up(a));
  EXPECT_EQ(a.last_error(), url + ": TLS handshake: certificate refused: unable to get local issuer certificate "
                                  "(is --ca or XGATE_CA the CA that signed it?)");
}

TEST_F(TlsHub, ACaptureOfHubTrafficHoldsNoMessageBodyWithTls) {
  for (bool tls : {false, true}) {
    std::string url = serve_hub(tls ? node_tls() : xgate::tls::server_settings{});
    xgate::testing::recording_proxy proxy(static_cast<unsigned short>(std::stoi(port_of(url))));
    std::string via = (tls ? "tls://127.0.0.1:" : "tcp://127.0.0.1:") + std::to_string(proxy.port());
    {
      xgate::channel::endpoint a(endpoint(via, "alice", certs / "ca.crt"));
      xgate::channel::endpoint b(endpoint(via, "bob", certs / "ca.crt"));
      a.start();
      b.start();
      ASSERT_TRUE(a.wait_connected(10s)) << a.last_error();
      ASSERT_TRUE(b.wait_connected(10s)) << b.last_error();
      a.send("bob", "chat", "<launch-code>SECRET-0000-4711</launch-code>");
      ASSERT_TRUE(b.receive(10s));
    }
    proxy.stop();
    EXPECT_EQ(proxy.captured().find("SECRET-0000-4711") != std::string::npos, !tls);
    EXPECT_EQ(proxy.captured().find("launch-code") != std::string::npos, !tls);
    hub_server->stop();
    h->stop();
    hub_server.reset();
    h.reset();
  }
}

// The long-poll hub over HTTPS, directly and through a forward proxy (tinyproxy), which then
// carries a CONNECT tunnel and sees only TLS.
TEST_F(TlsHub, LongPollOverHttpsDirectlyAndThroughAProxysConnectTunnel) {
  serve_hub(node_tls());
  longpoll = std::make_unique<xgate::channel::longpoll_hub_server>(
      *h, xgate::channel::longpoll_server_options{.address = "127.0.0.1", .port = 0, .max_hold = 1000ms, .tls = node_tls()});
  longpoll->start();
  std::string url = longpoll->url();
  ASSERT_EQ(url, "https://127.0.0.1:" + port_of(url));
  xgate::channel::testing::tinyproxy proxy(dir / "tinyproxy");
  xgate::channel::transport_options t;
  t.tls.ca = certs / "ca.crt";
  t.poll_timeout = 1000ms;
  auto direct = endpoint(url, "alice", certs / "ca.crt");
  direct.custom_transport = xgate::channel::make_http_transport(url, t, {.http_proxy = "-"});
  auto tunnelled = endpoint(url, "bob", certs / "ca.crt");
  tunnelled.custom_transport = xgate::channel::make_http_transport(url, t, {.http_proxy = proxy.url()});
  xgate::channel::endpoint a(direct), b(tunnelled);
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(10s)) << a.last_error();
  ASSERT_TRUE(b.wait_connected(10s)) << b.last_error();
  for (int i = 0; i < 50; ++i) a.send("bob", "chat", "<secret-n>" + std::to_string(i) + "</secret-n>");
  for (int i = 0; i < 50; ++i) {
    auto m = b.receive(10s);
    ASSERT_TRUE(m) << i;
    EXPECT_EQ(m->body, "<secret-n>" + std::to_string(i) + "</secret-n>");
  }
  b.send("alice", "chat", "<back/>");
  ASSERT_TRUE(a.receive(10s));
  std::ifstream log(dir / "tinyproxy" / "tinyproxy.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("CONNECT 127.0.0.1:" + port_of(url)), std::string::npos) << text.substr(0, 2000);
  EXPECT_EQ(text.find("POST"), std::string::npos) << "the proxy saw a request inside the tunnel";
}

TEST_F(TlsHub, ALongPollEndpointGivesUpOnAnHttpsHubItCannotTrust) {
  serve_hub(node_tls());
  longpoll = std::make_unique<xgate::channel::longpoll_hub_server>(
      *h, xgate::channel::longpoll_server_options{.address = "127.0.0.1", .port = 0, .tls = node_tls()});
  longpoll->start();
  xgate::tls::create_ca(dir / "other");
  auto o = endpoint(longpoll->url(), "alice", dir / "other" / "ca.crt");
  o.transport_settings.tls.ca = dir / "other" / "ca.crt";
  o.custom_transport = xgate::channel::make_http_transport(longpoll->url(), o.transport_settings, {.http_proxy = "-"});
  xgate::channel::endpoint a(o);
  a.start();
  EXPECT_TRUE(gives_up(a));
  EXPECT_EQ(a.last_error(), longpoll->url() + "/channel: TLS handshake: certificate refused: unable to get local issuer "
                                              "certificate (is --ca or XGATE_CA the CA that signed it?)");
}

}  // namespace
