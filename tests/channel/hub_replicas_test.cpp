// Several hubs on one store (replicas), on each store engine: endpoints logged in at
// different hubs exchange messages exactly once and in order, see each other's presence,
// move to another hub when theirs stops without losing or repeating a message, and a
// login at one hub replaces the name's session at another. On PostgreSQL each hub has a
// store object (its own connections) on one database, as separate xgated processes do;
// LMDB allows one per process, so there the hubs share it. (Replicas in separate processes,
// one SIGKILLed: tests/migrate/migrate_postgresql_test.cpp.)
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <xgate/channel.hpp>
#include <xgate/store/store.hpp>

#include "store_engines.hpp"
#include "test_util.hpp"

namespace xgate::channel {
namespace {

using namespace std::chrono_literals;
using store::testing::store_engine_factory;
using store::testing::store_engines;
using testing::collector;
using testing::eventually;

// The sanitizer tree runs several times slower: fewer messages there (what is tested is the same).
#ifdef XGATE_SANITIZED
constexpr std::size_t shrink = 4;
#else
constexpr std::size_t shrink = 1;
#endif


class HubReplicas : public ::testing::TestWithParam<store_engine_factory> {
 protected:
  std::filesystem::path place = store::testing::fresh_dir();
  std::unique_ptr<store::store> store1 = std::make_unique<store::store>(GetParam().open(place));
  std::unique_ptr<store::store> store2 =
      GetParam().name == "lmdb" ? nullptr : std::make_unique<store::store>(GetParam().open(place));
  struct replica {
    std::unique_ptr<hub> h;
    std::unique_ptr<tcp_hub_server> server;
    void stop() {
      if (server) server->stop();
      if (h) h->stop();
    }
  };
  replica one, two;

  void SetUp() override {
    start(one, *store1);
    start(two, store2 ? *store2 : *store1);
  }
  ~HubReplicas() override {
    one.stop();
    two.stop();
    two = {};
    one = {};
    store2.reset();
    store1.reset();
    GetParam().remove(place);
  }
  static void start(replica& r, store::store& s) {
    r.h = std::make_unique<hub>(s, hub_options{.context = "replicated hub", .presence_lease = std::chrono::seconds(3)});
    r.server = std::make_unique<tcp_hub_server>(*r.h, tcp_server_options{.address = "127.0.0.1"});
    r.server->start();
  }
  std::string token(const std::string& principal) {
    store::credential_request r;
    r.rights = store::right_set::all();
    return store1->issue_credential(store::caller(principal), r);
  }
  endpoint_options options_for(const std::string& name, const std::string& hubs, collector* c = nullptr) {
    endpoint_options o;
    o.hub = hubs;
    o.name = name;
    o.secret = token(name);
    o.reconnect_min = 10ms;
    o.reconnect_max = 200ms;
    o.heartbeat = 1000ms;
    o.dead_after = 5000ms;
    o.send_timeout = 60000ms;
    if (c) o.on_message = [c](envelope e) { c->add(std::move(e)); };
    return o;
  }
  // Every message of the other side, once each, in order.
  static void expect_in_order(collector& c, std::size_t n, const std::string& who) {
    std::lock_guard lock(c.m);
    EXPECT_EQ(c.got.size(), n) << who;
    std::size_t bad = 0;
    for (std::size_t i = 0; i < c.got.size() && bad < 5; ++i)
      if (c.got[i].body != "<m>" + std::to_string(i) + "</m>") {
        ADD_FAILURE() << who << ": message " << i << " was " << c.got[i].body;
        ++bad;
      }
  }
};

TEST_P(HubReplicas, EndpointsAtTwoHubsExchangeMessagesExactlyOnceInOrderAndSeeEachOther) {
  collector got_a, got_b;
  endpoint a(options_for("node-a", one.server->url(), &got_a));
  endpoint b(options_for("node-b", two.server->url(), &got_b));
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(10s)) << a.last_error();
  ASSERT_TRUE(b.wait_connected(10s)) << b.last_error();
  EXPECT_TRUE(eventually([&] { return a.online() == std::vector<std::string>{"node-a", "node-b"}; }));
  EXPECT_TRUE(eventually([&] { return b.online() == std::vector<std::string>{"node-a", "node-b"}; }));
  EXPECT_EQ(one.h->online(), (std::vector<std::string>{"node-a", "node-b"}));

  const std::size_t n = 2000 / shrink;
  std::thread ta([&] {
    for (std::size_t i = 0; i < n; ++i) a.send("node-b", "test", "<m>" + std::to_string(i) + "</m>");
  });
  for (std::size_t i = 0; i < n; ++i) b.send("node-a", "test", "<m>" + std::to_string(i) + "</m>");
  ta.join();
  EXPECT_TRUE(got_a.wait_for_count(n, 60s)) << "node-a got " << got_a.size();
  EXPECT_TRUE(got_b.wait_for_count(n, 60s)) << "node-b got " << got_b.size();
  std::this_thread::sleep_for(300ms);  // late duplicates would show up now
  expect_in_order(got_a, n, "node-a");
  expect_in_order(got_b, n, "node-b");
  // Every queue emptied: each hub removed what its own endpoint acknowledged.
  EXPECT_TRUE(eventually([&] { return store1->list("channel/queue", store::caller("xgate-hub")).empty(); }));

  b.stop();
  EXPECT_TRUE(eventually([&] { return a.online() == std::vector<std::string>{"node-a"}; }))
      << "node-b's logout at the second hub reaches node-a at the first";
}

TEST_P(HubReplicas, EndpointsOfAStoppedHubMoveToTheOtherWithNothingLostOrRepeated) {
  collector got_a, got_b;
  // Each lists its own hub first; the other is where it goes when that one stops.
  endpoint a(options_for("node-a", one.server->url() + "," + two.server->url(), &got_a));
  endpoint b(options_for("node-b", two.server->url() + "," + one.server->url(), &got_b));
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(10s)) << a.last_error();
  ASSERT_TRUE(b.wait_connected(10s)) << b.last_error();
  ASSERT_TRUE(eventually([&] { return one.h->stats().online == 1 && two.h->stats().online == 1; }));

  const std::size_t n = 3000 / shrink;
  std::thread cutter([&] {
    (void)eventually([&] { return got_b.size() >= n / 3 || got_a.size() >= n / 3; }, 60s);
    one.stop();  // mid-traffic: node-a's hub goes away
  });
  std::thread ta([&] {
    for (std::size_t i = 0; i < n; ++i) a.send("node-b", "test", "<m>" + std::to_string(i) + "</m>");
  });
  for (std::size_t i = 0; i < n; ++i) b.send("node-a", "test", "<m>" + std::to_string(i) + "</m>");
  ta.join();
  cutter.join();
  EXPECT_TRUE(got_a.wait_for_count(n, 60s)) << "node-a got " << got_a.size();
  EXPECT_TRUE(got_b.wait_for_count(n, 60s)) << "node-b got " << got_b.size();
  std::this_thread::sleep_for(300ms);
  expect_in_order(got_a, n, "node-a");
  expect_in_order(got_b, n, "node-b");
  EXPECT_GE(a.reconnects(), 1u);
  EXPECT_EQ(two.h->stats().online, 2u) << "node-a is at the second hub now";
}

TEST_P(HubReplicas, ALoginAtAnotherHubReplacesTheSession) {
  auto o = options_for("node-a", one.server->url());
  endpoint first(o);
  first.start();
  ASSERT_TRUE(first.wait_connected(10s)) << first.last_error();
  // Of two logins at different hubs the later committed presence wins: let the first's be known.
  ASSERT_TRUE(eventually([&] { return two.h->online() == std::vector<std::string>{"node-a"}; }));
  o.hub = two.server->url();
  o.secret = token("node-a");
  endpoint second(o);
  second.start();
  ASSERT_TRUE(second.wait_connected(10s)) << second.last_error();
  ASSERT_TRUE(eventually([&] { return first.state() == endpoint_state::refused; })) << first.last_error();
  EXPECT_NE(first.last_error().find("endpoint node-a: replaced by a newer session (tcp 127.0.0.1:"), std::string::npos)
      << first.last_error();
  EXPECT_NE(first.last_error().find(", at another hub)"), std::string::npos) << first.last_error();
  EXPECT_TRUE(eventually([&] { return one.h->stats().online == 0; }));
  EXPECT_EQ(second.state(), endpoint_state::connected);
  EXPECT_EQ(one.h->online(), std::vector<std::string>{"node-a"}) << "online at the other hub";
}

TEST_P(HubReplicas, MessagesQueuedThroughOneHubAreDeliveredAtTheOtherOnce) {
  collector got_b;
  endpoint a(options_for("node-a", one.server->url()));
  a.start();
  ASSERT_TRUE(a.wait_connected(10s)) << a.last_error();
  for (int i = 0; i < 50; ++i) a.send("node-b", "test", "<m>" + std::to_string(i) + "</m>");
  ASSERT_TRUE(eventually([&] { return store1->list("channel/queue/node-b", store::caller("xgate-hub")).size() == 50; }));
  // node-b logs in first at the second hub, takes some, then at the first: nothing twice.
  {
    collector first_half;
    auto ob = options_for("node-b", two.server->url(), &first_half);
    endpoint b(ob);
    b.start();
    ASSERT_TRUE(first_half.wait_for_count(50, 20s)) << first_half.size();
    expect_in_order(first_half, 50, "node-b at the second hub");
    ASSERT_TRUE(eventually([&] { return store1->list("channel/queue/node-b", store::caller("xgate-hub")).empty(); }));
  }
  endpoint b(options_for("node-b", one.server->url(), &got_b));
  b.start();
  ASSERT_TRUE(b.wait_connected(10s)) << b.last_error();
  a.send("node-b", "test", "<m>late</m>");
  ASSERT_TRUE(got_b.wait_for_count(1, 20s));
  std::this_thread::sleep_for(300ms);
  std::lock_guard lock(got_b.m);
  ASSERT_EQ(got_b.got.size(), 1u) << "the first hub handed out again what the second delivered";
  EXPECT_EQ(got_b.got[0].body, "<m>late</m>");
}

INSTANTIATE_TEST_SUITE_P(Engines, HubReplicas, ::testing::ValuesIn(store_engines()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace xgate::channel
