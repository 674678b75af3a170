// The browser view through Debian's real headless Chromium against the real xgated binary:
// log in from a URL fragment (/login?next=...#token=...), then check the DOM Chromium ends
// up with after the login script's navigation (--dump-dom prints the final page).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <xgate/tls/certs.hpp>

#include "http_test_client.hpp"
#include "test_dir.hpp"

namespace {

using namespace xgate::server::testing;
using std::chrono::seconds;

class BrowserTest : public ::testing::Test {
 protected:
  std::filesystem::path dir = xgate::store::testing::fresh_dir();
  ~BrowserTest() override { std::filesystem::remove_all(dir); }

  // The DOM Chromium holds after loading url (and following its scripts); killed after 60 s.
  // extra: more flags for Chromium.
  std::string dump_dom(const std::string& url, const std::string& profile, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{CHROMIUM_BINARY, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                                  "--user-data-dir=" + (dir / profile).string(), "--virtual-time-budget=10000"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"--dump-dom", url});
    child_process chromium(argv, (dir / (profile + ".stderr")).string());
    std::string dom = chromium.read_all(seconds(60));
    auto status = chromium.wait(seconds(1));
    if (!status) {
      chromium.signal(SIGKILL);
      ADD_FAILURE() << "Chromium did not finish within 60 s on " << url;
    } else {
      EXPECT_EQ(*status, 0) << "Chromium failed on " << url;
    }
    return dom;
  }
};

void expect_has(const std::string& dom, const std::string& what) {
  EXPECT_NE(dom.find(what), std::string::npos) << "missing: " << what << "\nin:\n" << dom;
}

TEST_F(BrowserTest, ChromiumLogsInFromTheFragmentAndSeesTheListingAndADocument) {
  if (!std::filesystem::exists(CHROMIUM_BINARY)) GTEST_SKIP() << CHROMIUM_BINARY << " is not installed (apt-get install chromium)";
  std::filesystem::create_directories(dir);
  std::string data = (dir / "data").string();
  std::string token = xgated_adduser(XGATED_BINARY, data, "alice");
  ASSERT_FALSE(token.empty());
  child_process server({XGATED_BINARY, "--data", data, "--listen", "127.0.0.1:0"}, (dir / "xgated.stderr").string());
  auto line = server.read_line(seconds(20));
  ASSERT_TRUE(line);
  std::string base = line->substr(line->find("http://"));
  auto port = static_cast<unsigned short>(std::stoi(base.substr(base.rfind(':') + 1)));

  http_client c(port);
  const std::string q1 =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xg:doc xmlns:xg=\"urn:xgate:1\"><xg:rights creator=\"alice\" "
      "read=\"alice bob\" write=\"creator\" delete=\"creator\" copy=\"carol\"/><report><title>Q1 &amp; Q2</title>"
      "<total>1234</total></report></xg:doc>";
  ASSERT_EQ(c.request(http::verb::put, "/store/reports/q1?lease=3600", token, q1).result_int(), 201);
  ASSERT_EQ(c.request(http::verb::put, "/store/reports/q2", token, "<r><x>2</x></r>").result_int(), 201);
  ASSERT_EQ(c.request(http::verb::put, "/store/reports/2026/jan", token, "<r/>").result_int(), 201);
  ASSERT_EQ(c.request(http::verb::put, "/store/other", token, "<r/>").result_int(), 201);
  std::string lease = header(c.request(http::verb::head, "/store/reports/q1", token), "X-Xgate-Lease-Expires");
  ASSERT_EQ(lease.size(), 24u);

  // The listing of reports/, reached through the login script.
  std::string dom = dump_dom(base + "/login?next=%2Fbrowse%2Freports%2F#token=" + token, "profile1");
  expect_has(dom, "<title>xgated: reports/</title>");
  expect_has(dom, "Logged in as <b>alice</b>");
  expect_has(dom,
             "<tr class=\"document\"><td><a href=\"/view/reports/q1\">reports/q1</a></td><td>alice</td><td>alice bob</td>"
             "<td>creator</td><td>creator</td><td>carol</td><td>" +
                 std::to_string(q1.size()) + "</td><td>1</td>");
  expect_has(dom, "<td>" + lease + " (alice)</td></tr>");  // lease expiry and holder
  expect_has(dom, "<a href=\"/view/reports/q2\">reports/q2</a></td><td>alice</td><td>creator</td>");
  expect_has(dom, "<td>15</td><td>2</td>");  // size and revision of q2
  expect_has(dom, "<a href=\"/browse/reports/2026/\">2026/</a> (1 document)");
  expect_has(dom, "<a id=\"parent\" href=\"/browse/\">");
  EXPECT_EQ(dom.find("reports/2026/jan</a>"), std::string::npos) << "deeper documents show as folders";
  EXPECT_EQ(dom.find("other"), std::string::npos) << "outside the prefix";
  EXPECT_EQ(dom.find(token), std::string::npos);

  // A document page: metadata and the XML indented and escaped.
  dom = dump_dom(base + "/login?next=%2Fview%2Freports%2Fq1#token=" + token, "profile2");
  expect_has(dom, "<h1>reports/q1</h1>");
  expect_has(dom, "<tr><th>read</th><td>alice bob</td></tr>");
  expect_has(dom, "<tr><th>lease expires</th><td>" + lease + " (alice)</td></tr>");
  expect_has(dom, "<pre class=\"xml\">&lt;?xml version=\"1.0\" encoding=\"UTF-8\"?&gt;\n&lt;xg:doc xmlns:xg=\"urn:xgate:1\"&gt;\n"
                  "  &lt;xg:rights creator=\"alice\" read=\"alice bob\"");
  expect_has(dom, "\n  &lt;report&gt;\n    &lt;title&gt;Q1 &amp;amp; Q2&lt;/title&gt;\n    &lt;total&gt;1234&lt;/total&gt;\n"
                  "  &lt;/report&gt;\n&lt;/xg:doc&gt;");

  // A wrong token stays on the login page and shows no documents.
  dom = dump_dom(base + "/login#token=xgt1_wrong", "profile3");
  expect_has(dom, "That token was not accepted.");
  EXPECT_EQ(dom.find("reports/q1"), std::string::npos);

  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(seconds(20)), 0);
}

}  // namespace

namespace {

// base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate: what Chromium's
// --ignore-certificate-errors-spki-list takes to trust a certificate its own store does not.
std::string spki_hash(const std::filesystem::path& cert) {
  std::ifstream in(cert);
  std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(X509_get0_pubkey(x), &der);
  unsigned char digest[32];
  unsigned int len = 0;
  EVP_Digest(der, static_cast<std::size_t>(n), digest, &len, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  X509_free(x);
  unsigned char b64[64];
  int m = EVP_EncodeBlock(b64, digest, static_cast<int>(len));
  return std::string(reinterpret_cast<char*>(b64), static_cast<std::size_t>(m));
}

}  // namespace

// The browser view over HTTPS: xgated with a certificate from xgate::tls's CA, Chromium
// trusting that certificate (its own store knows no test CA).
TEST_F(BrowserTest, ChromiumLoadsTheBrowserViewOverHttps) {
  if (!std::filesystem::exists(CHROMIUM_BINARY)) GTEST_SKIP() << CHROMIUM_BINARY << " is not installed (apt-get install chromium)";
  std::filesystem::create_directories(dir);
  std::filesystem::path certs = dir / "certs";
  xgate::tls::create_ca(certs);
  xgate::tls::issue(certs, "node", {.hosts = {"localhost", "127.0.0.1"}});
  std::string data = (dir / "data").string();
  std::string token = xgated_adduser(XGATED_BINARY, data, "alice");
  ASSERT_FALSE(token.empty());
  child_process server({XGATED_BINARY, "--data", data, "--listen", "127.0.0.1:0", "--tls-cert", (certs / "node.crt").string(),
                        "--tls-key", (certs / "node.key").string()},
                       (dir / "xgated.stderr").string());
  auto line = server.read_line(seconds(20));
  ASSERT_TRUE(line);
  ASSERT_TRUE(line->starts_with("store: https://127.0.0.1:")) << *line;
  std::string base = line->substr(7);
  std::filesystem::path doc = dir / "doc.xml";
  std::ofstream(doc) << "<r><x>over https</x></r>";
  child_process put({XGATE_BINARY, "store", "put", "reports/tls", doc.string(), "--server", base, "--token", token, "--ca",
                     (certs / "ca.crt").string()});
  put.read_all(seconds(20));
  ASSERT_EQ(put.wait(seconds(20)), 0);

  std::string dom = dump_dom(base + "/login?next=%2Fview%2Freports%2Ftls#token=" + token, "profile-tls",
                             {"--ignore-certificate-errors-spki-list=" + spki_hash(certs / "node.crt")});
  expect_has(dom, "<h1>reports/tls</h1>");
  expect_has(dom, "Logged in as <b>alice</b>");
  expect_has(dom, "&lt;x&gt;over https&lt;/x&gt;");
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(seconds(20)), 0);
}
