// The in-process server fixture of the server tests: xgate::server::http_server on a fresh
// LMDB store, alice's and bob's login tokens, and the checks every error response passes.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>

#include <xgate/server/http_server.hpp>
#include <xgate/store/store.hpp>

#include "http_test_client.hpp"
#include "test_dir.hpp"

namespace xgate::server::testing {

using xgate::store::testing::fresh_dir;
using xgate::store::testing::xgate_doc;
namespace store = xgate::store;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

class ServerTest : public ::testing::Test {
 protected:
  std::filesystem::path dir = fresh_dir();
  std::ostringstream log;
  xgate::logger logger{log};
  std::unique_ptr<store::store> s;
  std::unique_ptr<xgate::server::http_server> server;
  std::string alice, bob;  // login tokens

  void SetUp() override { open(); }
  void open(store::store_options so = {}, xgate::server::server_options o = {}) {
    server.reset();
    s.reset();
    s = std::make_unique<store::store>(dir, so);
    o.log = &logger;
    server = std::make_unique<xgate::server::http_server>(*s, o);
    server->start();
    alice = login("alice");
    bob = login("bob");
  }
  std::string login(const std::string& who) {
    store::credential_request r;
    r.label = "login";
    return s->issue_credential(store::caller(who), r);
  }
  ~ServerTest() override {
    server.reset();
    s.reset();
    std::filesystem::remove_all(dir);
  }
  http_client client() { return http_client(server->port()); }
  response call(http::verb m, const std::string& target, const std::string& token, std::string body = {},
                const headers& extra = {}) {
    http_client c = client();
    return c.request(m, target, token, std::move(body), extra);
  }
  // The checks every error response must pass: status, X-Xgate-Error, a one-line body.
  static void expect_error(const response& r, unsigned status, const std::string& code, const std::string& message = {}) {
    EXPECT_EQ(r.result_int(), status) << r.body();
    EXPECT_EQ(header(r, "X-Xgate-Error"), code);
    EXPECT_EQ(header(r, "Content-Type"), "text/plain; charset=utf-8");
    ASSERT_FALSE(r.body().empty());
    EXPECT_EQ(r.body().find('\n'), r.body().size() - 1) << "one line";
    if (!message.empty()) {
      EXPECT_EQ(r.body(), message + "\n");
    }
  }
  // Nothing was written: the document is absent (or unchanged) and the revision did not move.
  void expect_unwritten(std::uint64_t revision_before, const std::string& name) {
    EXPECT_EQ(s->revision(), revision_before);
    EXPECT_FALSE(s->contains(name));
  }
};

const std::string plain = "<result><v>1</v><v>2</v></result>";

}  // namespace xgate::server::testing
