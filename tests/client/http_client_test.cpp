// http_session against a scripted server: what it sends (routes, percent-encoding, the
// token), how it rebuilds typed errors from the API's headers, keep-alive and reconnects,
// and the client_error for a server that cannot be reached or does not answer.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include <xgate/client/http_session.hpp>
#include <xgate/store/error.hpp>

#include "fake_server.hpp"
#include "test_dir.hpp"

namespace xgate::client {
namespace {

using testing::fake_request;
using testing::fake_response;
using testing::fake_server;
using xgate::store::store_errc;
using xgate::store::testing::catch_store_error;

const char* info_xml =
    "<document name=\"a b/c\" revision=\"7\" size=\"5\" created=\"2026-11-22T01:40:06.123Z\" "
    "modified=\"2026-11-22T01:40:07.000Z\" creator=\"alice\" read=\"alice bob\" write=\"creator\" delete=\"creator\" "
    "copy=\"\" embedded-rights=\"1\" lease-expires=\"2026-11-22T02:00:00.000Z\" lease-holder=\"alice\"/>";

TEST(HttpSession, SendsTheTokenAndEncodedRoutes) {
  fake_server server([](const fake_request& r) -> fake_response {
    if (r.target.starts_with("/store/")) return {201, {{"X-Xgate-Revision", "7"}}, info_xml};
    if (r.target.starts_with("/query")) return {200, {}, "<query prefix=\"p\" xpath=\"x\" revision=\"3\"><match name=\"a\" revision=\"3\"><value>1 &lt; 2</value><value>&lt;v&gt;1&lt;/v&gt;</value></match></query>"};
    if (r.target.starts_with("/list")) return {200, {}, "<list prefix=\"\" revision=\"3\"/>"};
    return {404, {{"X-Xgate-Error", "not_found"}}, "no route\n"};
  });
  auto s = http_session(server.url() + "/", "tok en");
  EXPECT_EQ(s->address(), server.url());
  auto info = s->write("a b/c", "<v/>", {.expected_revision = 0, .lease = std::chrono::milliseconds(1500)});
  EXPECT_EQ(info.name, "a b/c");
  EXPECT_EQ(info.revision, 7u);
  EXPECT_EQ(info.size, 5u);
  EXPECT_EQ(info.rights, xgate::rights::owned_by("alice").readers({"alice", "bob"}).copiers({}));
  EXPECT_TRUE(info.embedded_rights);
  ASSERT_TRUE(info.lease_expires);
  EXPECT_EQ(info.lease_holder, "alice");
  EXPECT_EQ(info.modified - info.created, std::chrono::milliseconds(877));

  auto matches = s->query("p/q", "//v[. < 2]");
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].name, "a");
  EXPECT_EQ(matches[0].revision, 3u);
  EXPECT_EQ(matches[0].values, (std::vector<std::string>{"1 < 2", "<v>1</v>"}));
  EXPECT_TRUE(s->list("").empty());

  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].method, "PUT");
  EXPECT_EQ(reqs[0].target, "/store/a%20b/c?lease=2&if-revision=0");
  EXPECT_EQ(reqs[0].body, "<v/>");
  EXPECT_EQ(reqs[0].header("Authorization"), "Bearer tok en");
  EXPECT_EQ(reqs[0].header("Content-Type"), "application/xml; charset=utf-8");
  EXPECT_EQ(reqs[1].target, "/query/p/q?xpath=%2F%2Fv%5B.%20%3C%202%5D");
  EXPECT_EQ(reqs[2].target, "/list");
  EXPECT_EQ(server.connections(), 1);  // one keep-alive connection for all three
}

TEST(HttpSession, RebuildsTypedErrorsFromTheHeaders) {
  fake_server server([](const fake_request& r) -> fake_response {
    std::string t = r.target;
    if (t == "/store/mine") return {403, {{"X-Xgate-Error", "access_denied"}, {"X-Xgate-Principal", "bob"}, {"X-Xgate-Right", "write"}, {"X-Xgate-Document", "mine"}}, "access denied: principal \"bob\" lacks the write right on \"mine\"\n"};
    if (t == "/store/gone") return {404, {{"X-Xgate-Error", "not_found"}}, "store: read \"gone\": no such document\n"};
    if (t.starts_with("/store/cas")) return {409, {{"X-Xgate-Error", "conflict"}}, "store: write \"cas\": revision conflict (expected 4, current 5)"};
    if (t.starts_with("/list")) return {500, {{"X-Xgate-Error", "lmdb"}}, "store: list: MDB_PANIC"};
    if (t.starts_with("/watch")) return {410, {{"X-Xgate-Error", "history_lost"}}, "something odd"};
    if (t == "/revision") return {401, {{"X-Xgate-Error", "unauthorized"}, {"WWW-Authenticate", "Bearer realm=\"xgated\""}}, "unknown token"};
    if (t.starts_with("/store/big")) return {413, {}, "too large"};
    if (t.starts_with("/take")) return {405, {{"X-Xgate-Error", "bad_request"}}, "method not allowed"};
    return {200, {}, "<oops"};
  });
  auto s = http_session(server.url(), "t");
  try {
    s->write("mine", "<v/>");
    ADD_FAILURE() << "no access_denied";
  } catch (const xgate::access_denied& e) {
    EXPECT_EQ(e.principal(), "bob");
    EXPECT_EQ(e.right(), "write");
    EXPECT_EQ(e.document(), "mine");
    EXPECT_EQ(std::string(e.what()), xgate::access_denied("bob", "write", "mine").what());
  }
  auto nf = catch_store_error([&] { s->read("gone"); });
  EXPECT_EQ(nf.code(), store_errc::not_found);
  EXPECT_EQ(nf.operation(), "read");
  EXPECT_EQ(nf.document(), "gone");
  EXPECT_STREQ(nf.what(), "store: read \"gone\": no such document");
  auto c = catch_store_error([&] { s->write("cas", "<v/>", {.expected_revision = 4}); });
  EXPECT_EQ(c.code(), store_errc::conflict);
  EXPECT_STREQ(c.what(), "store: write \"cas\": revision conflict (expected 4, current 5)");
  auto l = catch_store_error([&] { s->list("x"); });
  EXPECT_EQ(l.code(), store_errc::lmdb);
  EXPECT_STREQ(l.what(), "store: list: MDB_PANIC");
  auto w = catch_store_error([&] { s->watch("x", 1, std::chrono::milliseconds(10)); });
  EXPECT_EQ(w.code(), store_errc::history_lost);
  EXPECT_EQ(w.operation(), "watch");  // a message not in the store's form: the session method
  EXPECT_EQ(w.document(), "x");
  EXPECT_EQ(catch_store_error([&] { s->revision(); }).code(), store_errc::bad_credential);
  EXPECT_EQ(catch_store_error([&] { s->write("big", "<v/>"); }).code(), store_errc::too_large);
  try {
    s->take("t");
    ADD_FAILURE() << "no client_error";
  } catch (const client_error& e) {
    EXPECT_EQ(e.code(), xgate::net_errc::bad_response);
    EXPECT_FALSE(e.retryable());
    EXPECT_EQ(e.http_status(), 405);
    EXPECT_NE(std::string(e.what()).find("/take/t"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("method not allowed"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)s->info("x"), client_error);  // 200 with a body that is not the API's
}

TEST(HttpSession, AnOverloadedServerIsWorthARetry) {
  for (int status : {429, 502, 503, 504}) {
    fake_server server([&](const fake_request&) -> fake_response { return {status, {}, "busy"}; });
    auto s = http_session(server.url(), "t");
    try {
      (void)s->revision();
      ADD_FAILURE() << "no client_error for " << status;
    } catch (const client_error& e) {
      EXPECT_EQ(e.code(), xgate::net_errc::busy) << status;
      EXPECT_EQ(e.code(), xgate::condition::unavailable) << status;
      EXPECT_TRUE(e.retryable()) << status;
      EXPECT_EQ(e.http_status(), status);
    }
  }
}

TEST(HttpSession, ReconnectsOnceWhenTheServerClosedAnIdleConnection) {
  fake_server server([](const fake_request&) -> fake_response { return {200, {}, "<revision>3</revision>"}; },
                     /*close_after_each=*/true);
  auto s = http_session(server.url(), "t");
  EXPECT_EQ(s->revision(), 3u);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the server has closed by now
  EXPECT_EQ(s->revision(), 3u);
  EXPECT_EQ(s->revision(), 3u);
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(server.connections(), 3);
}

TEST(HttpSession, UnreachableServerIsAClientErrorNamingTheUrl) {
  int port;
  {
    fake_server gone([](const fake_request&) { return fake_response{}; });
    port = gone.port();
  }  // closed: nothing listens on port now
  std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto s = http_session(url, "t");
  try {
    s->read("a/b");
    ADD_FAILURE() << "no client_error";
  } catch (const client_error& e) {
    EXPECT_EQ(e.code(), xgate::net_errc::unreachable);
    EXPECT_TRUE(e.retryable());
    EXPECT_EQ(e.url(), url + "/store/a/b");
    EXPECT_NE(std::string(e.what()).find("connect"), std::string::npos) << e.what();
  }
  for (const char* bad : {"ftp://example.org", "127.0.0.1:80", "https://"}) {
    try {
      (void)http_session(bad, "t");
      ADD_FAILURE() << bad;
    } catch (const client_error& e) {
      EXPECT_EQ(e.code(), xgate::net_errc::bad_address) << bad;
    }
  }
}

TEST(HttpSession, ASilentServerTimesOut) {
  fake_server server([](const fake_request&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    return fake_response{200, {}, "<revision>1</revision>"};
  });
  auto s = http_session(server.url(), "t", {.request_timeout = std::chrono::milliseconds(150)});
  auto start = std::chrono::steady_clock::now();
  try {
    s->revision();
    ADD_FAILURE() << "no client_error";
  } catch (const client_error& e) {
    EXPECT_NE(std::string(e.what()).find("timed out"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(550));
}

TEST(HttpSession, SendsRightsAsParametersAndBatchAttributes) {
  fake_server server([](const fake_request& r) -> fake_response {
    if (r.target.starts_with("/store/")) return {201, {{"X-Xgate-Revision", "7"}}, info_xml};
    return {200, {}, "<batch/>"};
  });
  auto s = http_session(server.url(), "t");
  auto rights = xgate::rights::owned_by("alice").readers({"creator", "bob"}).writers({"*"}).deleters({});
  s->write("a", "<v/>", {.expected_revision = 0, .rights = rights});
  xgate::store::batch b;
  b.write("b", "<v/>", {.rights = rights}).write("c", "<w/>", {.lease = std::chrono::seconds(5)});
  s->apply(b);
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  // every list, so that the server stores exactly these rights ("" the empty list)
  EXPECT_EQ(reqs[0].target, "/store/a?if-revision=0&creator=alice&read=creator%2Cbob&write=%2A&delete=&copy=creator");
  EXPECT_EQ(reqs[1].body,
            "<batch><write name=\"b\" creator=\"alice\" read=\"creator,bob\" write=\"*\" delete=\"\" copy=\"creator\">"
            "&lt;v/&gt;</write><write name=\"c\" lease=\"5\">&lt;w/&gt;</write></batch>");
}

TEST(HttpSession, RefusesRightsItCannotSend) {
  fake_server server([](const fake_request&) { return fake_response{}; });
  auto s = http_session(server.url(), "t");
  // What the local store refuses too, with the same error: a name that is not a principal's.
  try {
    s->write("a", "<v/>", {.rights = xgate::rights::owned_by("alice").readers({"al ice"})});
    ADD_FAILURE() << "no error";
  } catch (const client_error& e) {
    ADD_FAILURE() << "client_error: " << e.what();
  } catch (const xgate::error& e) {
    EXPECT_EQ(e.code(), xgate::errc::bad_value);
    EXPECT_STREQ(e.what(), "invalid principal name \"al ice\"");
  }
  // A principal name with a comma is valid, but the API's lists are comma-separated.
  try {
    xgate::store::batch b;
    b.write("a", "<v/>", {.rights = xgate::rights::owned_by("alice").copiers({"bob", "x,y"})});
    s->apply(b);
    ADD_FAILURE() << "no client_error";
  } catch (const client_error& e) {
    EXPECT_EQ(std::string(e.what()), server.url() +
                                         "/batch: apply: the principal \"x,y\" in write_options::rights (copy) has a comma, "
                                         "which the API's comma-separated lists cannot carry");
  }
  EXPECT_TRUE(server.requests().empty());
}

}  // namespace
}  // namespace xgate::client
