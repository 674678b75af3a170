// xgated with TLS as a process, with certificates made by `xgate certs`: it prints https://
// and tls:// and serves `xgate store` clients that trust the CA (--ca or XGATE_CA); it refuses
// a client that does not, a key others may read, and a non-loopback address in the clear.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "files.hpp"
#include "http_test_client.hpp"
#include "test_dir.hpp"

namespace {

using xgate::testing::read_file;
using namespace xgate::server::testing;
using std::chrono::seconds;

class XgatedTlsTest : public ::testing::Test {
 protected:
  std::filesystem::path dir = xgate::store::testing::fresh_dir();
  std::filesystem::path certs = dir / "certs";
  ~XgatedTlsTest() override { std::filesystem::remove_all(dir); }

  // Runs a CLI to its end: its exit code, stdout and the stderr file's contents.
  struct run_result {
    int code;
    std::string out, err;
  };
  run_result run(std::vector<std::string> argv) {
    std::filesystem::path err = dir / "run.err";
    child_process p(argv, err.string());
    std::string out = p.read_all(seconds(30));
    std::optional<int> code = p.wait(seconds(30));
    EXPECT_TRUE(code) << argv[0] << " did not end within 30 s";
    return {code.value_or(-1), out, read_file(err)};
  }
  void SetUp() override {
    std::filesystem::create_directories(dir);
    ASSERT_EQ(run({XGATE_BINARY, "certs", "init", "--dir", certs.string()}).code, 0);
    ASSERT_EQ(run({XGATE_BINARY, "certs", "issue", "node", "--dir", certs.string(), "--host", "localhost", "--host", "127.0.0.1"}).code,
              0);
  }
  std::string adduser(const std::string& name) { return xgated_adduser(XGATED_BINARY, (dir / "data").string(), name); }
};

TEST_F(XgatedTlsTest, ServesHttpsAndATlsHubToClientsThatTrustTheCa) {
  std::string token = adduser("alice");
  std::filesystem::path err = dir / "xgated.err";
  child_process server({XGATED_BINARY, "--data", (dir / "data").string(), "--listen", "127.0.0.1:0", "--hub", "127.0.0.1:0",
                        "--tls-cert", (certs / "node.crt").string(), "--tls-key", (certs / "node.key").string()},
                       err.string());
  auto store_line = server.read_line(seconds(20));
  ASSERT_TRUE(store_line) << read_file(err);
  ASSERT_TRUE(store_line->starts_with("store: https://127.0.0.1:")) << *store_line;
  auto hub_line = server.read_line(seconds(20));
  ASSERT_TRUE(hub_line);
  EXPECT_TRUE(hub_line->starts_with("hub: tls://127.0.0.1:")) << *hub_line;
  std::string url = store_line->substr(7);

  std::filesystem::path doc = dir / "doc.xml";
  std::ofstream(doc) << "<job><n>1</n></job>";
  run_result put = run({XGATE_BINARY, "store", "put", "jobs/1", doc.string(), "--server", url, "--token", token, "--ca",
                        (certs / "ca.crt").string()});
  EXPECT_EQ(put.code, 0) << put.err;
  // XGATE_CA says the same as --ca
  ::setenv("XGATE_CA", (certs / "ca.crt").c_str(), 1);
  run_result get = run({XGATE_BINARY, "store", "get", "jobs/1", "--server", url, "--token", token});
  ::unsetenv("XGATE_CA");
  EXPECT_EQ(get.code, 0) << get.err;
  EXPECT_EQ(get.out, "<job><n>1</n></job>");

  // Without the CA the server's certificate is refused: exit 3, one line.
  run_result untrusted = run({XGATE_BINARY, "store", "get", "jobs/1", "--server", url, "--token", token});
  EXPECT_EQ(untrusted.code, 3);
  EXPECT_EQ(untrusted.err, "error: " + url + "/store/jobs/1: TLS handshake: certificate refused: unable to get local issuer "
                                             "certificate (is --ca or XGATE_CA the CA that signed it?)\n");
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(seconds(20)), 0);
  EXPECT_EQ(read_file(err).find(token), std::string::npos);
}

TEST_F(XgatedTlsTest, RefusesANonLoopbackAddressInTheClearUnlessInsecure) {
  for (std::vector<std::string> flags : {std::vector<std::string>{"--listen", "0.0.0.0:0"},
                                         std::vector<std::string>{"--listen", "127.0.0.1:0", "--hub", "[::]:0"}}) {
    std::vector<std::string> argv{XGATED_BINARY, "--data", (dir / "data").string()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    run_result r = run(argv);
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.err, "xgated: " + flags[flags.size() - 2] + " " + flags.back() +
                         " is not a loopback address: give --tls-cert and --tls-key to serve it with TLS, or --insecure to "
                         "serve it in the clear (see xgated --help)\n");
    EXPECT_EQ(r.out, "");
  }
  run_result r = run({XGATED_BINARY, "--data", (dir / "data").string(), "--listen", "127.0.0.1:0", "--tls-cert",
                      (certs / "node.crt").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "xgated: --tls-cert and --tls-key go together (see xgated --help)\n");
}

TEST_F(XgatedTlsTest, RefusesAKeyOthersMayRead) {
  std::string key = (certs / "node.key").string();
  ::chmod(key.c_str(), 0640);
  run_result r = run({XGATED_BINARY, "--data", (dir / "data").string(), "--listen", "127.0.0.1:0", "--tls-cert",
                      (certs / "node.crt").string(), "--tls-key", key});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "xgated: tls: load key \"" + key + "\": secret file \"" + key + "\" may be read by others (mode 0640): chmod 600 " +
                       key + "\n");
  EXPECT_EQ(r.out, "");
}

// SIGHUP after the certificate files were replaced (renewed, here by another CA's): new
// connections to the API and to both hub transports get the new certificate; files that
// cannot be used leave the one in use, with an error in the log.
TEST_F(XgatedTlsTest, SighupLoadsRenewedCertificatesForNewConnections) {
  const std::filesystem::path other = dir / "other", live = dir / "live";
  ASSERT_EQ(run({XGATE_BINARY, "certs", "init", "--dir", other.string()}).code, 0);
  ASSERT_EQ(run({XGATE_BINARY, "certs", "issue", "node", "--dir", other.string(), "--host", "127.0.0.1"}).code, 0);
  std::filesystem::create_directories(live);
  auto install = [&](const std::filesystem::path& from) {
    for (const char* f : {"node.crt", "node.key"})
      std::filesystem::copy_file(from / f, live / f, std::filesystem::copy_options::overwrite_existing);
  };
  install(certs);
  std::string token = adduser("alice");
  xgate::testing::write_secret_file(dir / "alice.secret", token);
  std::filesystem::path err = dir / "xgated.err";
  child_process server({XGATED_BINARY, "--data", (dir / "data").string(), "--listen", "127.0.0.1:0", "--hub", "127.0.0.1:0",
                        "--hub-http", "127.0.0.1:0", "--tls-cert", (live / "node.crt").string(), "--tls-key",
                        (live / "node.key").string()},
                       err.string());
  auto store_line = server.read_line(seconds(20)), hub_line = server.read_line(seconds(20)), http_line = server.read_line(seconds(20));
  ASSERT_TRUE(store_line && hub_line && http_line) << read_file(err);
  const std::string url = store_line->substr(7), hub = hub_line->substr(5), hub_http = http_line->substr(10);
  auto trusted_by = [&](const std::filesystem::path& ca) {
    ::setenv("XGATE_CA", (ca / "ca.crt").c_str(), 1);
    const bool store_ok = run({XGATE_BINARY, "store", "ls", "--server", url, "--token", token}).code == 0;
    const bool hub_ok = run({XGATE_BINARY, "hops", "--hub", hub, "--as", "alice/h", "--secret-file", (dir / "alice.secret").string(),
                             "--wait", "5"}).code == 0;
    const bool http_ok = run({XGATE_BINARY, "hops", "--hub", hub_http, "--as", "alice/p", "--secret-file",
                              (dir / "alice.secret").string(), "--wait", "5"}).code == 0;
    ::unsetenv("XGATE_CA");
    return std::to_string(store_ok) + std::to_string(hub_ok) + std::to_string(http_ok);
  };
  EXPECT_EQ(trusted_by(certs), "111");
  EXPECT_EQ(trusted_by(other), "000");

  install(other);
  server.signal(SIGHUP);
  std::string renewed;
  for (int i = 0; i < 100 && renewed != "111"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    renewed = trusted_by(other);
  }
  EXPECT_EQ(renewed, "111") << read_file(err);
  EXPECT_EQ(trusted_by(certs), "000");
  EXPECT_NE(read_file(err).find("info xgated: SIGHUP: certificate " + (live / "node.crt").string() + " loaded for new connections"),
            std::string::npos) << read_file(err);

  std::ofstream(live / "node.crt") << "not a certificate\n";
  server.signal(SIGHUP);
  for (int i = 0; i < 100 && read_file(err).find("error xgated: SIGHUP:") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_NE(read_file(err).find("; serving with the old certificate"), std::string::npos) << read_file(err);
  EXPECT_EQ(trusted_by(other), "111") << "the certificate in use stays";
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(seconds(20)), 0);
}

}  // namespace
