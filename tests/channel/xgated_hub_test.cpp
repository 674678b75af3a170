// A real xgated with --hub: two endpoints talk through it while it is SIGKILLed and
// restarted on the same store and port; every message arrives exactly once and in order.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include <xgate/channel.hpp>

#include "http_test_client.hpp"
#include "test_dir.hpp"

namespace xgate::channel {
namespace {

using namespace std::chrono_literals;
using server::testing::child_process;

struct xgated_process {
  std::unique_ptr<child_process> p;
  std::string store_url, hub_url;

  xgated_process(const std::filesystem::path& data, const std::string& hub_listen, const std::filesystem::path& err) {
    p = std::make_unique<child_process>(
        std::vector<std::string>{XGATED_BINARY, "--data", data.string(), "--listen", "127.0.0.1:0", "--hub", hub_listen},
        err.string());
    auto l1 = p->read_line(20s);
    auto l2 = p->read_line(20s);
    if (!l1 || !l2) return;
    if (l1->starts_with("store: ")) store_url = l1->substr(7);
    if (l2->starts_with("hub: ")) hub_url = l2->substr(5);
  }
};

std::string adduser(const std::filesystem::path& data, const std::string& name) {
  child_process p({XGATED_BINARY, "adduser", name, "--data", data.string()});
  std::string out = p.read_all(20s);
  EXPECT_EQ(p.wait(20s), 0);
  return out.substr(0, out.find('\n'));
}

// What one endpoint received, in order.
struct received_log {
  std::mutex mu;
  std::vector<std::string> bodies;
  std::size_t size() {
    std::lock_guard lock(mu);
    return bodies.size();
  }
};

TEST(XgatedHub, SigkillAndRestartMidTrafficLosesAndDuplicatesNothing) {
  const auto dir = store::testing::fresh_dir();
  std::filesystem::create_directories(dir);
  const auto data = dir / "data";
  std::string ta = adduser(data, "alice"), tb = adduser(data, "bob");

  auto server = std::make_unique<xgated_process>(data, "127.0.0.1:0", dir / "xgated1.log");
  ASSERT_TRUE(server->store_url.starts_with("http://127.0.0.1:")) << server->store_url;
  ASSERT_TRUE(server->hub_url.starts_with("tcp://127.0.0.1:")) << server->hub_url;
  const std::string hub_url = server->hub_url;

  received_log at_a, at_b;
  auto opts = [&](const std::string& name, const std::string& token, received_log& log) {
    endpoint_options o;
    o.hub = hub_url;
    o.name = name;
    o.secret = token;
    o.reconnect_min = 20ms;
    o.reconnect_max = 300ms;
    o.on_message = [&log](envelope e) {
      std::lock_guard lock(log.mu);
      log.bodies.push_back(std::move(e.body));
    };
    return o;
  };
  endpoint a(opts("alice", ta, at_a));
  endpoint b(opts("bob", tb, at_b));
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(10s)) << a.last_error();
  ASSERT_TRUE(b.wait_connected(10s)) << b.last_error();

  constexpr int n = 2000;
  auto sender = [](endpoint& e, const std::string& to) {
    for (int i = 0; i < n; ++i) {
      e.send(to, "n", "<n>" + std::to_string(i) + "</n>");
      if (i % 100 == 0) std::this_thread::sleep_for(5ms);  // spread the traffic over the kill
    }
  };
  std::thread sa([&] { sender(a, "bob"); });
  std::thread sb([&] { sender(b, "alice"); });

  // Kill it while messages are in flight both ways.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while ((at_a.size() < 200 || at_b.size() < 200) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  EXPECT_LT(at_b.size(), static_cast<std::size_t>(n)) << "the traffic ended before the kill";
  server->p->signal(SIGKILL);
  EXPECT_EQ(server->p->wait(10s), 128 + SIGKILL);
  server = std::make_unique<xgated_process>(data, hub_url.substr(6), dir / "xgated2.log");
  ASSERT_EQ(server->hub_url, hub_url) << "restarted on the same port";

  sa.join();
  sb.join();
  EXPECT_TRUE(a.flush(30s));
  EXPECT_TRUE(b.flush(30s));
  deadline = std::chrono::steady_clock::now() + 30s;
  while ((at_a.size() < n || at_b.size() < n) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  std::this_thread::sleep_for(200ms);  // a duplicate would arrive now
  for (received_log* log : {&at_a, &at_b}) {
    std::lock_guard lock(log->mu);
    ASSERT_EQ(log->bodies.size(), static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) ASSERT_EQ(log->bodies[static_cast<std::size_t>(i)], "<n>" + std::to_string(i) + "</n>");
  }
  EXPECT_GE(a.reconnects(), 1u);
  a.stop();
  b.stop();
  server->p->signal(SIGTERM);
  EXPECT_EQ(server->p->wait(20s), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace xgate::channel
