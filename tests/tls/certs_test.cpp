// xgate::tls's certificate authority against OpenSSL's own verifier: a CA, node and client
// certificates that verify for their purpose and host, and every refusal certs.hpp names.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <xgate/tls/certs.hpp>

#include "files.hpp"

namespace {

namespace fs = std::filesystem;
namespace xt = xgate::tls;
using xgate::testing::read_file;

std::unique_ptr<X509, decltype(&X509_free)> load(const fs::path& p) {
  std::string pem = read_file(p);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return {x, X509_free};
}

// OpenSSL's verdict on cert, issued by ca, for purpose (X509_PURPOSE_SSL_SERVER or _CLIENT)
// and host ("" for none): "ok" or OpenSSL's reason.
std::string verify(const fs::path& ca, const fs::path& cert, int purpose, const std::string& host) {
  auto root = load(ca), leaf = load(cert);
  if (!root || !leaf) return "unreadable";
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, root.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx, purpose);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  if (!host.empty()) {
    unsigned char ip[16];
    if (inet_pton(AF_INET, host.c_str(), ip) == 1)
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    else
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  }
  int ok = X509_verify_cert(ctx);
  std::string out = ok == 1 ? "ok" : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return out;
}

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 0777;
}

class Certs : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() / ("xgate-certs-" + std::to_string(::getpid()) + "-" +
                                              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  void SetUp() override { fs::remove_all(dir); }
  ~Certs() override { fs::remove_all(dir); }

  xt::tls_error refused(const std::function<void()>& f) {
    try {
      f();
    } catch (const xt::tls_error& e) {
      return e;
    }
    ADD_FAILURE() << "no tls_error";
    return xt::tls_error(xt::tls_errc::openssl, "-", "-", "-");
  }
};

TEST_F(Certs, ANodeCertificateVerifiesForItsHostsAsServerAndClient) {
  xt::create_ca(dir, {.name = "test cluster"});
  EXPECT_EQ(mode_of(dir / "ca.key"), 0600u);
  EXPECT_EQ(mode_of(dir / "ca.crt"), 0644u);
  EXPECT_EQ(mode_of(dir), 0700u);
  xt::issue(dir, "node-a", {.hosts = {"localhost", "127.0.0.1", "a.example"}});
  EXPECT_EQ(mode_of(dir / "node-a.key"), 0600u);
  EXPECT_EQ(verify(dir / "ca.crt", dir / "node-a.crt", X509_PURPOSE_SSL_SERVER, "localhost"), "ok");
  EXPECT_EQ(verify(dir / "ca.crt", dir / "node-a.crt", X509_PURPOSE_SSL_SERVER, "127.0.0.1"), "ok");
  EXPECT_EQ(verify(dir / "ca.crt", dir / "node-a.crt", X509_PURPOSE_SSL_CLIENT, ""), "ok");
  EXPECT_EQ(verify(dir / "ca.crt", dir / "node-a.crt", X509_PURPOSE_SSL_SERVER, "b.example"), "hostname mismatch");
  EXPECT_EQ(verify(dir / "ca.crt", dir / "node-a.crt", X509_PURPOSE_SSL_SERVER, "10.0.0.9"), "IP address mismatch");

  xt::certificate_info i = xt::read_certificate(dir / "node-a.crt");
  EXPECT_EQ(i.subject, "CN=node-a,O=xgate");
  EXPECT_EQ(i.issuer, "CN=test cluster,O=xgate");
  EXPECT_EQ(i.common_name, "node-a");
  EXPECT_EQ(i.hosts, (std::vector<std::string>{"localhost", "127.0.0.1", "a.example"}));
  EXPECT_TRUE(i.server);
  EXPECT_TRUE(i.client);
  EXPECT_FALSE(i.is_ca);
  auto now = std::chrono::system_clock::now();
  EXPECT_LT(i.not_before, now);
  EXPECT_GT(i.not_after, now + std::chrono::days(364));
  EXPECT_LT(i.not_after, now + std::chrono::days(366));
  EXPECT_FALSE(i.serial.empty());
  EXPECT_TRUE(xt::read_certificate(dir / "ca.crt").is_ca);
}

TEST_F(Certs, AClientCertificateIsForClientsOnlyAndNamesThePrincipal) {
  xt::create_ca(dir);
  xt::issue(dir, "alice", {.client = true, .days = 30});
  EXPECT_EQ(verify(dir / "ca.crt", dir / "alice.crt", X509_PURPOSE_SSL_CLIENT, ""), "ok");
  EXPECT_EQ(verify(dir / "ca.crt", dir / "alice.crt", X509_PURPOSE_SSL_SERVER, ""), "unsuitable certificate purpose");
  xt::certificate_info i = xt::read_certificate(dir / "alice.crt");
  EXPECT_EQ(i.common_name, "alice");
  EXPECT_TRUE(i.client);
  EXPECT_FALSE(i.server);
  EXPECT_TRUE(i.hosts.empty());
}

TEST_F(Certs, AnotherCasCertificateDoesNotVerify) {
  xt::create_ca(dir / "one");
  xt::create_ca(dir / "two");
  xt::issue(dir / "one", "node-a", {.hosts = {"localhost"}});
  EXPECT_EQ(verify(dir / "two" / "ca.crt", dir / "one" / "node-a.crt", X509_PURPOSE_SSL_SERVER, "localhost"),
            "unable to get local issuer certificate");
}

TEST_F(Certs, RefusalsNameTheProblem) {
  auto e = refused([&] { xt::issue(dir, "node-a", {.hosts = {"localhost"}}); });
  EXPECT_EQ(e.reason(), xt::tls_errc::no_file);
  EXPECT_EQ(std::string(e.what()), "tls: issue \"node-a\": no CA in " + dir.string() +
                                       " (ca.crt, ca.key): run xgate certs init first");
  xt::create_ca(dir);
  e = refused([&] { xt::create_ca(dir); });
  EXPECT_EQ(e.reason(), xt::tls_errc::exists);
  EXPECT_EQ(e.code(), xgate::condition::failed_precondition);
  EXPECT_EQ(std::string(e.what()), "tls: create CA \"" + dir.string() + "\": " + (dir / "ca.crt").string() +
                                       " exists (nothing is overwritten)");
  e = refused([&] { xt::issue(dir, "node-a", {}); });
  EXPECT_EQ(std::string(e.what()), "tls: issue \"node-a\": a node certificate needs --host (a name or address it serves)");
  e = refused([&] { xt::issue(dir, "../evil", {.client = true}); });
  EXPECT_EQ(e.reason(), xt::tls_errc::bad_request);
  EXPECT_EQ(std::string(e.what()),
            "tls: issue \"../evil\": not a certificate name (1 to 64 letters, digits, '.', '_' or '-'; not \"ca\")");
  e = refused([&] { xt::issue(dir, "node-a", {.hosts = {"bad host!"}}); });
  EXPECT_EQ(std::string(e.what()), "tls: issue \"node-a\": \"bad host!\" is neither a host name nor an IP address");
  e = refused([&] { xt::issue(dir, "node-a", {.hosts = {"localhost"}, .days = 0}); });
  EXPECT_EQ(std::string(e.what()), "tls: issue \"node-a\": a validity of 0 days (give 1 to 36500)");
  xt::issue(dir, "node-a", {.hosts = {"localhost"}});
  std::string before = read_file(dir / "node-a.crt");
  e = refused([&] { xt::issue(dir, "node-a", {.hosts = {"localhost"}}); });
  EXPECT_EQ(e.reason(), xt::tls_errc::exists);
  EXPECT_EQ(read_file(dir / "node-a.crt"), before);
  // a CA key that is not the CA certificate's
  xt::create_ca(dir / "other");
  fs::remove(dir / "ca.key");
  fs::copy_file(dir / "other" / "ca.key", dir / "ca.key");
  e = refused([&] { xt::issue(dir, "node-b", {.hosts = {"localhost"}}); });
  EXPECT_EQ(e.reason(), xt::tls_errc::bad_file);
  EXPECT_EQ(std::string(e.what()), "tls: issue \"node-b\": " + (dir / "ca.key").string() + " is not the key of " +
                                       (dir / "ca.crt").string());
  // not a certificate at all
  std::ofstream(dir / "junk.crt") << "hello";
  e = refused([&] { (void)xt::read_certificate(dir / "junk.crt"); });
  EXPECT_EQ(e.reason(), xt::tls_errc::bad_file);
  EXPECT_EQ(std::string(e.what()), "tls: read certificate \"" + (dir / "junk.crt").string() + "\": " +
                                       (dir / "junk.crt").string() + " holds no PEM certificate");
  e = refused([&] { (void)xt::read_certificate(dir / "missing.crt"); });
  EXPECT_EQ(e.reason(), xt::tls_errc::no_file);
  EXPECT_EQ(e.code(), xgate::condition::not_found);
}

}  // namespace
