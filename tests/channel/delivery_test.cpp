// Exactly-once, in-order delivery between two endpoints through the hub while a seeded
// fault proxy delays, splits, coalesces and resets the connections (and, for HTTP
// long-poll, duplicates requests and drops responses); long-poll through a real HTTP
// forward proxy (tinyproxy); and the long-poll wire itself (sessions, 404, bad bundles).
//
// Message counts: XGATE_DELIVERY_MESSAGES (environment), default 10,000 each way. Besides
// the proxy's seeded faults, every connection through it is reset when a quarter, half and
// three quarters of the messages arrived, so each run cuts streams mid-traffic.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <xgate/channel.hpp>
#include <xgate/channel/longpoll.hpp>
#include <xgate/store/store.hpp>

#include "fault_proxy.hpp"
#include "test_dir.hpp"
#include "tinyproxy.hpp"

#ifndef XGATE_DELIVERY_MESSAGES
#define XGATE_DELIVERY_MESSAGES 10000
#endif

namespace xgate::channel {
namespace {
using namespace std::chrono_literals;
using testing::fault_options;
using testing::fault_proxy;
using testing::collector;

std::size_t message_count() {
  if (const char* n = std::getenv("XGATE_DELIVERY_MESSAGES")) return std::stoul(n);
  return XGATE_DELIVERY_MESSAGES;
}

std::string login_token(store::store& s, const std::string& principal) {
  store::credential_request r;
  r.rights = store::right_set::all();
  r.label = "login";
  return s.issue_credential(store::caller(principal), r);
}

class ChannelDelivery : public ::testing::Test {
 protected:
  std::filesystem::path dir = store::testing::fresh_dir();
  std::unique_ptr<store::store> st = std::make_unique<store::store>(dir);
  std::string token_a = login_token(*st, "node-a"), token_b = login_token(*st, "node-b");
  std::unique_ptr<hub> h = std::make_unique<hub>(*st, hub_options{.context = "delivery test hub"});
  std::unique_ptr<tcp_hub_server> tcp = std::make_unique<tcp_hub_server>(*h);
  std::unique_ptr<longpoll_hub_server> lp;

  void SetUp() override { tcp->start(); }
  void start_longpoll(longpoll_server_options o = {}) {
    lp = std::make_unique<longpoll_hub_server>(*h, std::move(o));
    lp->start();
  }
  ~ChannelDelivery() override {
    if (lp) lp->stop();
    tcp->stop();
    h->stop();
    st.reset();
    std::filesystem::remove_all(dir);
  }

  endpoint_options options_for(const std::string& name, const std::string& token, std::shared_ptr<transport> t,
                               collector& c) {
    endpoint_options o;
    o.name = name;
    o.secret = token;
    o.custom_transport = std::move(t);
    o.reconnect_min = 10ms;
    o.reconnect_max = 200ms;
    o.heartbeat = 1000ms;
    o.dead_after = 5000ms;
    o.send_timeout = 60000ms;
    o.on_message = [&c](envelope e) { c.add(std::move(e)); };
    return o;
  }

  // Sends n messages each way between a and b at once and checks that each side got
  // exactly the other's, once each, in order (after a pause that would show duplicates).
  // With cut: also resets every connection through it when a quarter, half and three
  // quarters of b's messages arrived (mid-stream whatever the chunk count).
  void exchange(endpoint& a, endpoint& b, collector& got_a, collector& got_b, std::size_t n,
                std::chrono::milliseconds deadline, fault_proxy* cut = nullptr) {
    auto t0 = std::chrono::steady_clock::now();
    std::atomic<bool> done{false};
    std::thread cutter([&] {
      if (!cut) return;
      for (std::size_t quarter = 1; quarter <= 3; ++quarter) {
        while (!done && !got_b.wait_for_count(n * quarter / 4, 10ms)) {
        }
        if (done) return;
        cut->reset_all();
      }
    });
    auto sender = [n](endpoint& from, const std::string& to) {
      for (std::size_t i = 0; i < n; ++i) from.send(to, "test", "<m>" + std::to_string(i) + "</m>");
    };
    std::thread ta([&] { sender(a, "node-b"); });
    std::thread tb([&] { sender(b, "node-a"); });
    ta.join();
    tb.join();
    bool all_b = got_b.wait_for_count(n, deadline), all_a = got_a.wait_for_count(n, deadline);
    done = true;
    cutter.join();
    EXPECT_TRUE(all_a) << "node-a got " << got_a.size() << " of " << n;
    EXPECT_TRUE(all_b) << "node-b got " << got_b.size() << " of " << n;
    std::this_thread::sleep_for(200ms);  // late duplicates would show up now
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
    std::cout << "[ delivery ] " << n << " messages each way in " << ms << " ms; reconnects a " << a.reconnects() << ", b "
              << b.reconnects() << "\n";
  }
};

void print_counts(const fault_proxy& p) {
  auto c = p.counts();
  std::cout << "[ faults   ] connections " << c.connections << ", resets " << c.resets << ", delays " << c.delays
            << ", splits " << c.splits << ", coalesced " << c.coalesces << ", duplicated requests " << c.duplicates
            << ", dropped responses " << c.dropped_responses << "\n";
}

TEST_F(ChannelDelivery, TcpThroughFaultsDeliversEachMessageOnceInOrder) {
  fault_proxy proxy("127.0.0.1", tcp->port(),
                    {.seed = 11, .delay = 0.02, .split = 0.05, .coalesce = 0.05, .reset = 0.02, .max_faults = 400});
  collector got_a, got_b;
  transport_options to;
  std::string url = "tcp://" + proxy.address();
  endpoint a(options_for("node-a", token_a, make_tcp_transport(url, to), got_a));
  endpoint b(options_for("node-b", token_b, make_tcp_transport(url, to), got_b));
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(10s)) << a.last_error();
  ASSERT_TRUE(b.wait_connected(10s)) << b.last_error();
  exchange(a, b, got_a, got_b, message_count(), 60s, &proxy);
  print_counts(proxy);
  EXPECT_GE(proxy.counts().resets, 3u);
  EXPECT_GE(a.reconnects() + b.reconnects(), 1u);
}

transport_options quick_polls() {
  transport_options o;
  o.poll_timeout = 300ms;
  o.connect_timeout = 5000ms;
  return o;
}

longpoll_options quick_longpoll(std::string proxy = "-") {
  longpoll_options lp;
  lp.http_proxy = std::move(proxy);
  lp.request_grace = 400ms;
  lp.give_up_after = 10000ms;
  return lp;
}

TEST_F(ChannelDelivery, LongPollThroughFaultsDeliversEachMessageOnceInOrder) {
  start_longpoll({.max_hold = 1000ms, .session_timeout = 20000ms});
  fault_proxy proxy("127.0.0.1", lp->port(),
                    {.seed = 12, .delay = 0.02, .split = 0.05, .reset = 0.005, .http = true, .duplicate_request = 0.02,
                     .drop_response = 0.01, .max_faults = 400});
  collector got_a, got_b;
  std::string url = "http://" + proxy.address() + "/channel";
  endpoint a(options_for("node-a", token_a, make_http_transport(url, quick_polls(), quick_longpoll()), got_a));
  endpoint b(options_for("node-b", token_b, make_http_transport(url, quick_polls(), quick_longpoll()), got_b));
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(10s)) << a.last_error();
  ASSERT_TRUE(b.wait_connected(10s)) << b.last_error();
  exchange(a, b, got_a, got_b, message_count(), 60s, &proxy);
  print_counts(proxy);
  auto c = proxy.counts();
  EXPECT_GE(c.resets, 3u);
  EXPECT_GT(c.duplicates + c.dropped_responses, 0u);
}

TEST_F(ChannelDelivery, LongPollThroughAnHttpForwardProxy) {
  if (!testing::tinyproxy::available()) GTEST_SKIP() << "tinyproxy is not installed (./x installs it)";
  start_longpoll({.max_hold = 1000ms});
  testing::tinyproxy proxy(dir / "tinyproxy");
  collector got_a, got_b;
  std::string url = lp->url() + "/channel";
  endpoint a(options_for("node-a", token_a, make_http_transport(url, quick_polls(), quick_longpoll(proxy.url())), got_a));
  endpoint b(options_for("node-b", token_b, make_http_transport(url, quick_polls(), quick_longpoll(proxy.url())), got_b));
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(10s)) << a.last_error();
  ASSERT_TRUE(b.wait_connected(10s)) << b.last_error();
  exchange(a, b, got_a, got_b, std::min<std::size_t>(message_count(), 2000), 60s);
  // The requests really went through the proxy: its log names them.
  std::ifstream log(dir / "tinyproxy" / "tinyproxy.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("POST http://" + lp->url().substr(7) + "/channel"), std::string::npos) << text.substr(0, 2000);
}

TEST_F(ChannelDelivery, LongPollSurvivesAHubRestart) {
  start_longpoll({.max_hold = 1000ms});
  unsigned short port = lp->port();
  collector got_a, got_b;
  std::string url = lp->url();
  endpoint a(options_for("node-a", token_a, make_http_transport(url, quick_polls(), quick_longpoll()), got_a));
  endpoint b(options_for("node-b", token_b, make_http_transport(url, quick_polls(), quick_longpoll()), got_b));
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(10s)) << a.last_error();
  ASSERT_TRUE(b.wait_connected(10s)) << b.last_error();
  for (int i = 0; i < 500; ++i) a.send("node-b", "test", "<m>" + std::to_string(i) + "</m>");
  // A clean in-process restart on the same store and port: the sessions are gone (404),
  // the endpoints log in again and resume their links.
  lp->stop();
  tcp->stop();
  h->stop();
  lp.reset();
  tcp.reset();
  h = std::make_unique<hub>(*st, hub_options{.context = "delivery test hub"});
  tcp = std::make_unique<tcp_hub_server>(*h);
  tcp->start();
  start_longpoll({.port = port, .max_hold = 1000ms});
  for (int i = 500; i < 1000; ++i) a.send("node-b", "test", "<m>" + std::to_string(i) + "</m>");
  ASSERT_TRUE(got_b.wait_for_count(1000, 30s)) << got_b.size();
  std::this_thread::sleep_for(300ms);
  std::lock_guard lock(got_b.m);
  ASSERT_EQ(got_b.got.size(), 1000u);
  for (std::size_t i = 0; i < 1000; ++i) ASSERT_EQ(got_b.got[i].body, "<m>" + std::to_string(i) + "</m>");
  EXPECT_GE(a.reconnects(), 1u);
  EXPECT_GE(b.reconnects(), 1u);
}

// ---- the wire itself ------------------------------------------------------------------

namespace http = boost::beast::http;

http::response<http::string_body> post(unsigned short port, http::request<http::string_body> req) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket s(ioc);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  req.version(11);
  req.set(http::field::host, "127.0.0.1");
  req.prepare_payload();
  http::write(s, req);
  boost::beast::flat_buffer b;
  http::response<http::string_body> res;
  http::read(s, b, res);
  return res;
}

TEST_F(ChannelDelivery, LongPollWire) {
  start_longpoll({.max_hold = 200ms});
  // A new session: answered at once with its id, no frames.
  http::request<http::string_body> open{http::verb::post, "/channel", 11};
  open.set("X-Xgate-Wait", "0");
  auto res = post(lp->port(), open);
  ASSERT_EQ(res.result_int(), 200u);
  std::string session(res["X-Xgate-Session"]);
  EXPECT_EQ(session.size(), 32u);
  EXPECT_TRUE(res.body().empty());
  EXPECT_EQ(lp->sessions(), 1u);

  // A hello in it gets the challenge back.
  endpoint_credential cred(token_a);
  http::request<http::string_body> hello{http::verb::post, "/channel", 11};
  hello.set("X-Xgate-Session", session);
  hello.set("X-Xgate-Seq", "1");
  hello.body() = encode_bundle({cred.hello("node-a")});
  res = post(lp->port(), hello);
  ASSERT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res["X-Xgate-Ack"], "1");
  EXPECT_EQ(res["X-Xgate-Seq"], "1");
  auto frames = decode_bundle(res.body());
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<frames::challenge>(frames[0]));

  // The same request again (a duplicate): its hello is not taken twice, and the challenge
  // (sent, not yet acknowledged) does not come again: the hold passes with nothing.
  auto t0 = std::chrono::steady_clock::now();
  res = post(lp->port(), hello);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 150ms);
  EXPECT_EQ(res["X-Xgate-Ack"], "1");
  EXPECT_TRUE(res.body().empty());

  // Resend: what was not acknowledged comes again.
  http::request<http::string_body> resend{http::verb::post, "/channel", 11};
  resend.set("X-Xgate-Session", session);
  resend.set("X-Xgate-Ack", "0");
  resend.set("X-Xgate-Resend", "1");
  res = post(lp->port(), resend);
  EXPECT_EQ(res["X-Xgate-Seq"], "1");
  EXPECT_EQ(decode_bundle(res.body()).size(), 1u);

  // Garbage: 400, and the session is gone.
  http::request<http::string_body> bad{http::verb::post, "/channel", 11};
  bad.set("X-Xgate-Session", session);
  bad.body() = std::string("\x00\x00\x00\x03zzz", 7);
  res = post(lp->port(), bad);
  EXPECT_EQ(res.result_int(), 400u);
  res = post(lp->port(), hello);
  EXPECT_EQ(res.result_int(), 404u);
  EXPECT_EQ(lp->sessions(), 0u);

  // Other paths and methods.
  EXPECT_EQ(post(lp->port(), http::request<http::string_body>{http::verb::post, "/elsewhere", 11}).result_int(), 404u);
  EXPECT_EQ(post(lp->port(), http::request<http::string_body>{http::verb::get, "/channel", 11}).result_int(), 405u);
}

TEST_F(ChannelDelivery, LongPollEndpointsSeeEachOtherAndLeave) {
  start_longpoll({.max_hold = 1000ms});
  collector got_a, got_b;
  std::string url = lp->url();
  endpoint a(options_for("node-a", token_a, make_http_transport(url, quick_polls(), quick_longpoll()), got_a));
  a.start();
  ASSERT_TRUE(a.wait_connected(10s)) << a.last_error();
  {
    endpoint b(options_for("node-b", token_b, make_http_transport(url, quick_polls(), quick_longpoll()), got_b));
    b.start();
    ASSERT_TRUE(b.wait_connected(10s)) << b.last_error();
    for (int i = 0; i < 100 && a.online().size() < 2; ++i) std::this_thread::sleep_for(20ms);
    EXPECT_EQ(a.online(), (std::vector<std::string>{"node-a", "node-b"}));
    b.send("node-a", "test", "<hi/>");
    ASSERT_TRUE(got_a.wait_for_count(1, 5s));
    EXPECT_TRUE(b.flush(5s));
  }
  // b said goodbye: a sees it go well before any session timeout.
  for (int i = 0; i < 100 && a.online().size() > 1; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(a.online(), (std::vector<std::string>{"node-a"}));
}

}  // namespace
}  // namespace xgate::channel
