// The XMPP transport against a real Prosody (tests/channel/prosody.hpp) on 127.0.0.1, over
// TLS with a self-signed certificate made for the test: typed messages both ways, presence,
// a 2 MB body, exactly-once in order, a Prosody crash mid-traffic, a wrong password, and
// the server's archive (XEP-0313) read by the account holder and by the administrator.
// Not skipped when Prosody is missing: ./x installs it, so its absence is a failure.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <xgate/channel.hpp>
#include <xgate/channel/xmpp.hpp>

#include "prosody.hpp"
#include "test_util.hpp"

namespace xmpptest {
struct Order {
  long number = 0;
  std::string item;
};
XGATE_TYPE(Order, "xmpptest.Order", 1, (), (number, item))
}  // namespace xmpptest

namespace xgate::channel {
namespace {

using namespace std::chrono_literals;
using testing::collector;
using testing::eventually;
using testing::prosody;


std::string password_of(const std::string& user) { return "pw-" + user + "-Zq7"; }

class ChannelXmpp : public ::testing::Test {
 protected:
  static inline std::unique_ptr<prosody> server;
  static inline std::filesystem::path dir;

  static void SetUpTestSuite() {
    dir = std::filesystem::temp_directory_path() / ("xgate-prosody-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    server = std::make_unique<prosody>(dir);  // throws (a failure, not a skip) without Prosody
    for (auto u : {"node-a", "node-b", "pres-a", "pres-b", "big-a", "big-b", "many-a", "many-b", "crash-a", "crash-b",
                   "arch-a", "arch-b", "gate-a", "gate-b"})
      server->add_user(u, password_of(u));
    server->start();
  }
  static void TearDownTestSuite() {
    server.reset();
    if (::testing::UnitTest::GetInstance()->failed_test_count() == 0) std::filesystem::remove_all(dir);  // kept for its logs otherwise
  }

  static endpoint_options options_for(const std::string& name, collector* c = nullptr) {
    endpoint_options o;
    o.hub = server->url(name);
    o.name = name;
    o.secret = password_of(name);
    o.reconnect_min = 20ms;
    o.reconnect_max = 300ms;
    o.send_timeout = 60000ms;
    o.transport_settings.max_frame = std::size_t{4} << 20;
    if (c) o.on_message = [c](envelope e) { c->add(std::move(e)); };
    return o;
  }

  // n messages each way at once; each side gets exactly the other's, once each, in order.
  static void exchange(endpoint& a, endpoint& b, collector& got_a, collector& got_b, std::size_t n,
                       std::function<void()> midway = {}) {
    auto t0 = std::chrono::steady_clock::now();
    auto sender = [n](endpoint& from, const std::string& to) {
      for (std::size_t i = 0; i < n; ++i) from.send(to, "test", "<m>" + std::to_string(i) + "</m>");
    };
    std::thread ta([&] { sender(a, b.name()); });
    std::thread tb([&] { sender(b, a.name()); });
    if (midway) {
      got_b.wait_for_count(n / 3, 30s);
      midway();
    }
    ta.join();
    tb.join();
    EXPECT_TRUE(got_b.wait_for_count(n, 40s)) << b.name() << " got " << got_b.size() << " of " << n;
    EXPECT_TRUE(got_a.wait_for_count(n, 40s)) << a.name() << " got " << got_a.size() << " of " << n;
    EXPECT_TRUE(a.flush(20s));
    EXPECT_TRUE(b.flush(20s));
    std::this_thread::sleep_for(300ms);  // late duplicates would show up now
    for (auto* c : {&got_a, &got_b}) {
      std::lock_guard lock(c->m);
      EXPECT_EQ(c->got.size(), n);
      std::size_t bad = 0;
      for (std::size_t i = 0; i < c->got.size() && bad < 5; ++i) {
        if (c->got[i].body != "<m>" + std::to_string(i) + "</m>") {
          ADD_FAILURE() << "message " << i << " was " << c->got[i].body;
          ++bad;
        }
      }
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "[ xmpp     ] " << n << " messages each way in " << ms << " ms; reconnects " << a.reconnects() << ", "
              << b.reconnects() << "\n";
  }
};

TEST_F(ChannelXmpp, NamesMapToJidLocalpartsAndBack) {
  EXPECT_EQ(xmpp_localpart("node/a"), "node\\2fa");
  EXPECT_EQ(xmpp_localpart("a@b:c"), "a\\40b\\3ac");
  for (std::string n : {"node-a", "node/a/worker-1", "x@y", "back\\slash", "q'\"&<>"}) EXPECT_EQ(xmpp_endpoint_name(xmpp_localpart(n)), n);
  EXPECT_EQ(testing::catch_channel_error([] { (void)make_transport("xmpp://a@localhost"); }).code(), channel_errc::bad_auth);
  EXPECT_EQ(testing::catch_channel_error([] { (void)make_xmpp_transport("xmpp://localhost", {.password = "x"}); }).code(),
            channel_errc::protocol);
  EXPECT_EQ(testing::catch_channel_error([] { (void)make_xmpp_transport("xmpp://a@im.example.org?tls=off", {.password = "x"}); }).code(),
            channel_errc::bad_auth);  // plaintext only on loopback
}

TEST_F(ChannelXmpp, TwoEndpointsExchangeTypedMessagesBothWays) {
  collector got_a, got_b;
  endpoint a(options_for("node-a", &got_a)), b(options_for("node-b", &got_b));
  b.expect<xmpptest::Order>();
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(10s)) << a.last_error();
  ASSERT_TRUE(b.wait_connected(10s)) << b.last_error();
  a.send("node-b", xmpptest::Order{17, "bolts & <nuts>"});
  std::string q = b.send("node-a", "chat", "<xg:doc xmlns:xg=\"urn:xgate:1\"><t>h\xc3\xa9llo</t></xg:doc>");
  a.send("node-b", "reply", "<ok/>", q);
  ASSERT_TRUE(got_b.wait_for_count(2, 10s));
  ASSERT_TRUE(got_a.wait_for_count(1, 10s));
  {
    std::lock_guard lock(got_b.m);
    EXPECT_EQ(got_b.got[0].from, "node-a");
    EXPECT_EQ(got_b.got[0].kind, "xmpptest.Order");
    auto order = message_codec<xmpptest::Order>().open(got_b.got[0]);
    EXPECT_EQ(order.number, 17);
    EXPECT_EQ(order.item, "bolts & <nuts>");
    EXPECT_EQ(got_b.got[1].correlation, q);
    EXPECT_EQ(got_b.got[1].body, "<ok/>");
  }
  {
    std::lock_guard lock(got_a.m);
    EXPECT_EQ(got_a.got[0].id, q);
    EXPECT_EQ(got_a.got[0].body, "<xg:doc xmlns:xg=\"urn:xgate:1\"><t>h\xc3\xa9llo</t></xg:doc>");
  }
  EXPECT_TRUE(a.flush(10s));  // node-b acknowledged everything, end to end
  EXPECT_EQ(a.unacked(), 0u);
}

TEST_F(ChannelXmpp, PresenceShowsTheOtherComingAndGoing) {
  std::mutex m;
  std::vector<std::string> seen;
  auto opts = options_for("pres-a");
  opts.on_presence = [&](const frames::presence& p) {
    std::lock_guard lock(m);
    for (auto& e : p.entries) seen.push_back(e.endpoint + (e.online ? " online" : " offline"));
  };
  endpoint a(opts);
  a.start();
  ASSERT_TRUE(a.wait_connected(10s)) << a.last_error();
  {
    endpoint b(options_for("pres-b"));
    b.start();
    ASSERT_TRUE(b.wait_connected(10s)) << b.last_error();
    a.send("pres-b", "hi", "<hi/>");  // first contact: they become buddies
    EXPECT_TRUE(eventually([&] {
      auto o = a.online();
      return std::find(o.begin(), o.end(), "pres-b") != o.end();
    })) << "pres-a never saw pres-b online";
    EXPECT_TRUE(eventually([&] {
      auto o = b.online();
      return std::find(o.begin(), o.end(), "pres-a") != o.end();
    })) << "pres-b never saw pres-a online";
    EXPECT_TRUE(a.flush(10s));
  }  // b leaves
  EXPECT_TRUE(eventually([&] {
    auto o = a.online();
    return std::find(o.begin(), o.end(), "pres-b") == o.end();
  })) << "pres-a still sees pres-b online";
  std::lock_guard lock(m);
  EXPECT_NE(std::find(seen.begin(), seen.end(), "pres-b online"), seen.end());
  EXPECT_NE(std::find(seen.begin(), seen.end(), "pres-b offline"), seen.end());
  // Buddies stay buddies: the next login sees the other at once.
  endpoint b2(options_for("pres-b"));
  b2.start();
  ASSERT_TRUE(b2.wait_connected(10s));
  EXPECT_TRUE(eventually([&] {
    auto o = b2.online();
    return std::find(o.begin(), o.end(), "pres-a") != o.end();
  }));
}

TEST_F(ChannelXmpp, LargeBodiesArriveIntact) {
  collector got_b;
  endpoint a(options_for("big-a")), b(options_for("big-b", &got_b));
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(10s) && b.wait_connected(10s));
  std::mt19937 rng(7);
  // 2 MB of XML text (split into chunks under Prosody's 256 KiB stanza limit, escaping
  // and all) and 300 KB of bytes XML text cannot carry (sent as base64).
  std::string text = "<xg:doc xmlns:xg=\"urn:xgate:1\"><data>";
  while (text.size() < (std::size_t{2} << 20)) text += "<v n=\"" + std::to_string(rng()) + "\">a&amp;b \xe2\x82\xac</v>\n";
  text += "</data></xg:doc>";
  std::string bytes(300000, '\0');
  for (auto& c : bytes) c = static_cast<char>(rng());
  a.send("big-b", "big", text);
  a.send("big-b", "bin", bytes);
  ASSERT_TRUE(got_b.wait_for_count(2, 60s)) << got_b.size() << " " << to_string(b.state()) << ": " << b.last_error();
  std::lock_guard lock(got_b.m);
  EXPECT_TRUE(got_b.got[0].body == text) << "text body differs (" << got_b.got[0].body.size() << " bytes)";
  EXPECT_TRUE(got_b.got[1].body == bytes) << "binary body differs (" << got_b.got[1].body.size() << " bytes)";
}

TEST_F(ChannelXmpp, EachMessageArrivesOnceInOrder) {
  collector got_a, got_b;
  endpoint a(options_for("many-a", &got_a)), b(options_for("many-b", &got_b));
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(10s) && b.wait_connected(10s));
  exchange(a, b, got_a, got_b, 2000);
}

TEST_F(ChannelXmpp, SurvivesAProsodyCrashMidTraffic) {
  collector got_a, got_b;
  endpoint a(options_for("crash-a", &got_a)), b(options_for("crash-b", &got_b));
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(10s) && b.wait_connected(10s));
  exchange(a, b, got_a, got_b, 1500, [&] {
    server->kill_now();  // SIGKILL: whatever Prosody held in memory is gone
    std::this_thread::sleep_for(300ms);
    server->start();  // same data dir and port
  });
  EXPECT_GE(a.reconnects(), 1u);
  EXPECT_GE(b.reconnects(), 1u);
}

TEST_F(ChannelXmpp, AWrongPasswordIsRefusedClearly) {
  auto o = options_for("node-a");
  o.secret = "not-the-password";
  endpoint a(o);
  a.start();
  auto e = testing::catch_channel_error([&] { (void)a.wait_connected(10s); });
  EXPECT_EQ(e.code(), channel_errc::bad_auth);
  EXPECT_NE(e.detail().find("refused the login of node-a@localhost"), std::string::npos) << e.what();
  EXPECT_EQ(a.state(), endpoint_state::refused);
  EXPECT_EQ(testing::catch_channel_error([&] { (void)a.send("node-b", "x", "<x/>"); }).code(), channel_errc::bad_auth);
  // The endpoint's name must be the account's.
  auto o2 = options_for("node-a");
  o2.name = "node-b";
  endpoint b(o2);
  b.start();
  auto e2 = testing::catch_channel_error([&] { (void)b.wait_connected(10s); });
  EXPECT_NE(e2.detail().find("cannot log in as the XMPP account node-a@localhost"), std::string::npos) << e2.what();
  // And read_xmpp_archive says the same.
  EXPECT_EQ(testing::catch_channel_error([] {
              (void)read_xmpp_archive(server->url("node-a"), {.password = "wrong"});
            }).code(),
            channel_errc::bad_auth);
}

TEST_F(ChannelXmpp, ATypeCheckRefusalReachesTheSender) {
  collector got_b;
  std::mutex m;
  std::vector<frames::error> errors;
  auto oa = options_for("gate-a");
  oa.on_error = [&](const frames::error& e) {
    std::lock_guard lock(m);
    errors.push_back(e);
  };
  endpoint a(oa), b(options_for("gate-b", &got_b));
  b.expect<xmpptest::Order>();
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(10s) && b.wait_connected(10s));
  std::string id = a.send("gate-b", "xmpptest.Order", "<not-an-order/>");
  EXPECT_TRUE(eventually([&] {
    std::lock_guard lock(m);
    return !errors.empty();
  }));
  std::lock_guard lock(m);
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0].message_id, id);
  EXPECT_EQ(got_b.size(), 0u);
}

TEST_F(ChannelXmpp, TheArchiveHoldsTheMessages) {
  collector got_b;
  endpoint a(options_for("arch-a")), b(options_for("arch-b", &got_b));
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(10s) && b.wait_connected(10s));
  std::vector<std::string> ids;
  for (int i = 0; i < 120; ++i) ids.push_back(a.send("arch-b", "note", "<note n=\"" + std::to_string(i) + "\"/>"));
  std::string big(100000, 'z');
  ids.push_back(a.send("arch-b", "big", "<big>" + big + "</big>"));
  ASSERT_TRUE(a.flush(20s));
  ASSERT_TRUE(got_b.wait_for_count(ids.size(), 10s));

  // The account holder, over XMPP (XEP-0313, paged): both accounts' archives hold them all.
  for (std::string who : {"arch-a", "arch-b"}) {
    auto archived = read_xmpp_archive(server->url(who), {.password = password_of(who)}, who == "arch-a" ? "arch-b" : "arch-a");
    std::vector<std::string> got;
    for (auto& e : archived)
      if (e.from == "arch-a") got.push_back(e.id);
    EXPECT_EQ(got, ids) << who << "'s archive";
    ASSERT_FALSE(archived.empty());
    EXPECT_EQ(archived.back().body, "<big>" + big + "</big>");  // chunks reassembled
    EXPECT_EQ(archived.front().kind, "note");
  }

  // The administrator, without the users' passwords: Prosody's storage of arch-b's archive
  // (storage = "internal": DATA/HOST/archive/USER.list, '-' escaped as %2d) holds each
  // message readably: its id, sender and body.
  std::ifstream in(server->data_dir() / "localhost" / "archive" / "arch%2db.list");
  ASSERT_TRUE(in) << "no archive file for arch-b";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string file = ss.str();
  for (auto& id : ids) EXPECT_NE(file.find(id), std::string::npos) << id << " is not in the archive file";
  EXPECT_NE(file.find("note n=\\\"7\\\""), std::string::npos) << file.substr(0, 600);
}

}  // namespace
}  // namespace xgate::channel
