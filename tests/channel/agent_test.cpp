// Multi-hop relay agents (channel/agent.hpp) as real processes on loopback:
//
//   xgated (hub1) <- agent-a (runs hub2) <- agent-b (runs hub3)
//   node-a on hub1 ~~ route node-a > agent-a > agent-b > node-c ~~ node-c on hub3
//
// Hop listing, 1,000 messages each way exactly once and in order, refusals naming the hop,
// and agent-b SIGKILLed mid-route: both ends hear which hop broke, nothing arrives twice.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include <xgate/channel/agent.hpp>
#include <xgate/channel/endpoint.hpp>
#include <xgate/channel/method.hpp>
#include <xgate/tls/certs.hpp>

#include "files.hpp"
#include "http_test_client.hpp"
#include "test_dir.hpp"
#include "test_util.hpp"

namespace xgate::channel {
namespace {

using namespace std::chrono_literals;
using server::testing::child_process;
using testing::catch_channel_error;

std::string adduser(const std::filesystem::path& data, const std::string& name) {
  return xgate::server::testing::xgated_adduser(XGATED_BINARY, data.string(), name);
}

std::filesystem::path secret_file(const std::filesystem::path& dir, const std::string& name, const std::string& token) {
  auto path = dir / (name + ".secret");
  xgate::testing::write_secret_file(path, token + "\n");
  return path;
}

// A process that prints "PREFIX URL" on its first lines (xgated, xgate agent).
std::string read_url(child_process& p, const std::string& prefix) {
  for (int i = 0; i < 3; ++i) {
    auto line = p.read_line(20s);
    if (!line) return "";
    if (line->starts_with(prefix)) return line->substr(prefix.size());
  }
  return "";
}

struct agent_process {
  std::unique_ptr<child_process> p;
  std::string hub_url;  // the downstream hub it runs
  // extra: more flags (--tls-cert, --tls-key).
  agent_process(const std::string& name, const std::string& upstream, const std::filesystem::path& secret,
                const std::filesystem::path& data, const std::filesystem::path& err, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{XGATE_BINARY, "agent", "--name", name, "--upstream", upstream, "--secret-file", secret.string(),
                                  "--downstream", "127.0.0.1:0", "--data", data.string(), "--hop-timeout", "1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    p = std::make_unique<child_process>(argv, err.string());
    hub_url = read_url(*p, "hub: ");
  }
  bool killed = false;
  ~agent_process() {
    if (killed) return;
    p->signal(SIGTERM);
    EXPECT_EQ(p->wait(10s), 0) << "xgate agent on SIGTERM (a sanitizer report fails it too)";
  }
};

// One end: an endpoint with a router, and methods that may be called over its routes.
struct route_end {
  methods calls;
  router routes{route_options{.hop_timeout = 1000ms}};
  std::unique_ptr<endpoint> ep;
  route_end(const std::string& hub, const std::string& name, const std::string& token) {
    endpoint_options o;
    o.hub = hub;
    o.name = name;
    o.secret = token;
    o.reconnect_min = 20ms;
    o.reconnect_max = 200ms;
    o.on_message = routes.on_message(calls.on_message());
    ep = std::make_unique<endpoint>(std::move(o));
    calls.bind(*ep);
    routes.bind(*ep);
    ep->start();
  }
  ~route_end() {
    calls.unbind();
    routes.unbind();
    ep->stop();
  }
  // Until name is online on this end's hub.
  bool sees(const std::string& name, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto on = ep->online();
      if (std::find(on.begin(), on.end(), name) != on.end()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
};

class AgentChain : public ::testing::Test {
 protected:
  std::filesystem::path dir = store::testing::fresh_dir();
  std::unique_ptr<child_process> hub1;
  std::string hub1_url;
  std::unique_ptr<agent_process> agent_a, agent_b;
  std::string token_a, token_c;
  std::unique_ptr<route_end> a, c;
  // Every hub on TLS: xgated and both agents' downstream hubs present one certificate from
  // xgate::tls's CA, which everyone trusts through XGATE_CA.
  bool tls = false;

  void SetUp() override {
    std::filesystem::create_directories(dir);
    const auto d1 = dir / "hub1", da = dir / "agent-a", db = dir / "agent-b";
    token_a = adduser(d1, "node-a");
    auto agent_a_secret = secret_file(dir, "agent-a", adduser(d1, "agent-a"));
    auto agent_b_secret = secret_file(dir, "agent-b", adduser(da, "agent-b"));  // a login on agent-a's hub
    token_c = adduser(db, "node-c");
    std::vector<std::string> tls_flags;
    if (tls) {
      xgate::tls::create_ca(dir / "certs");
      xgate::tls::issue(dir / "certs", "hub", {.hosts = {"127.0.0.1"}});
      tls_flags = {"--tls-cert", (dir / "certs" / "hub.crt").string(), "--tls-key", (dir / "certs" / "hub.key").string()};
      ::setenv("XGATE_CA", (dir / "certs" / "ca.crt").c_str(), 1);
    }
    const std::string scheme = tls ? "tls://127.0.0.1:" : "tcp://127.0.0.1:";
    std::vector<std::string> argv{XGATED_BINARY, "--data", d1.string(), "--listen", "127.0.0.1:0", "--hub", "127.0.0.1:0"};
    argv.insert(argv.end(), tls_flags.begin(), tls_flags.end());
    hub1 = std::make_unique<child_process>(argv, (dir / "hub1.log").string());
    hub1_url = read_url(*hub1, "hub: ");
    ASSERT_TRUE(hub1_url.starts_with(scheme)) << hub1_url;
    agent_a = std::make_unique<agent_process>("agent-a", hub1_url, agent_a_secret, da, dir / "agent-a.log", tls_flags);
    ASSERT_TRUE(agent_a->hub_url.starts_with(scheme)) << agent_a->hub_url;
    agent_b = std::make_unique<agent_process>("agent-b", agent_a->hub_url, agent_b_secret, db, dir / "agent-b.log", tls_flags);
    ASSERT_TRUE(agent_b->hub_url.starts_with(scheme)) << agent_b->hub_url;
    a = std::make_unique<route_end>(hub1_url, "node-a", token_a);
    c = std::make_unique<route_end>(agent_b->hub_url, "node-c", token_c);
    ASSERT_TRUE(a->ep->wait_connected(10s)) << a->ep->last_error();
    ASSERT_TRUE(c->ep->wait_connected(10s)) << c->ep->last_error();
    ASSERT_TRUE(a->sees("agent-a", 10s));
    ASSERT_TRUE(c->sees("agent-b", 10s));
  }

  void TearDown() override {
    a.reset();
    c.reset();
    agent_b.reset();
    agent_a.reset();
    if (hub1) {
      hub1->signal(SIGTERM);
      EXPECT_EQ(hub1->wait(20s), 0);
    }
    if (tls) ::unsetenv("XGATE_CA");
    if (!HasFailure()) std::filesystem::remove_all(dir);  // keep the logs of a failure
  }

  // Opens the route, retrying while agent-b has not yet logged in to agent-a's hub.
  std::shared_ptr<route> open_route() {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      try {
        return a->routes.open({"agent-a", "agent-b", "node-c"}, 10s);
      } catch (const channel_error& e) {
        if (e.code() != channel_errc::route_broken || std::chrono::steady_clock::now() > deadline) throw;
        std::this_thread::sleep_for(50ms);
      }
    }
  }
};

std::string body(int i) { return "<n>" + std::to_string(i) + "</n>"; }

// ---- method calls over a route ---------------------------------------------------------------
}  // namespace
struct route_text {
  std::string text;
};
XGATE_TYPE(route_text, "test.RouteText", 1, (), (text))
struct route_number {
  int n = 0;
};
XGATE_TYPE(route_number, "test.RouteNumber", 1, (), (n))
namespace {

TEST_F(AgentChain, MethodCallsTravelOverARouteBothWays) {
  c->calls.serve<route_text, route_text>("who", [](const route_text& s, const call_info& i) {
    return route_text{s.text + " from " + i.caller};
  });
  a->calls.serve<route_number, route_number>("twice", [](const route_number& x, const call_info&) { return route_number{2 * x.n}; });
  auto ra = open_route();
  auto rc = c->routes.accept(5s);
  ASSERT_TRUE(rc);
  c->calls.attach(rc);
  // The caller is the route's origin (the agents vouched for it); concurrent calls each get
  // their own reply.
  std::vector<std::thread> callers;
  std::vector<std::string> got(8);
  for (std::size_t k = 0; k < got.size(); ++k)
    callers.emplace_back([&, k] { got[k] = a->calls.call<route_text>(ra, "who", route_text{"hello " + std::to_string(k)}, 10s).text; });
  for (auto& t : callers) t.join();
  for (std::size_t k = 0; k < got.size(); ++k) EXPECT_EQ(got[k], "hello " + std::to_string(k) + " from node-a");
  // The far end calls back on the same route.
  EXPECT_EQ(c->calls.call<route_number>(rc, "twice", route_number{21}, 10s).n, 42);
  // Faults come back as on the hub.
  auto e = catch_channel_error([&] { (void)a->calls.call<route_number>(ra, "nothing", route_number{1}, 10s); });
  EXPECT_EQ(e.code(), channel_errc::no_method);
  EXPECT_NE(std::string(e.what()).find("node-c serves no method \"nothing\""), std::string::npos) << e.what();
  e = catch_channel_error([&] { (void)a->calls.call<route_number>(ra, "who", route_number{5}, 10s); });
  EXPECT_EQ(e.code(), channel_errc::wrong_body_type) << e.what();
}

// The same chain with every hub on TLS: the agents' upstream and downstream hops included.
class AgentChainTls : public AgentChain {
 protected:
  AgentChainTls() { tls = true; }
};

TEST_F(AgentChainTls, MessagesAndCallsCrossTwoAgentsWithEveryHopOnTls) {
  c->calls.serve<route_text, route_text>("who", [](const route_text& s, const call_info& i) {
    return route_text{s.text + " from " + i.caller};
  });
  auto ra = open_route();
  auto rc = c->routes.accept(5s);
  ASSERT_TRUE(rc);
  c->calls.attach(rc);
  EXPECT_EQ(a->calls.call<route_text>(ra, "who", route_text{"hello"}, 10s).text, "hello from node-a");
}

TEST_F(AgentChain, ACallWaitingOnARouteFailsNamingTheHopWhenAnAgentDies) {
  // Shared with the handler, which may outlive this body when an assertion returns early.
  auto release = std::make_shared<std::atomic<bool>>(false), started = std::make_shared<std::atomic<bool>>(false);
  struct releaser {
    std::shared_ptr<std::atomic<bool>> r;
    ~releaser() { *r = true; }
  } release_on_exit{release};
  c->calls.serve<route_number, route_number>("slow", [release, started](const route_number& x, const call_info&) {
    *started = true;
    while (!*release) std::this_thread::sleep_for(5ms);
    return x;
  });
  auto ra = open_route();
  auto rc = c->routes.accept(5s);
  ASSERT_TRUE(rc);
  c->calls.attach(rc);
  std::optional<channel_error> failed;
  std::thread caller([&] {
    try {
      a->calls.call<route_number>(ra, "slow", route_number{1}, 60s);
    } catch (const channel_error& e) {
      failed = e;
    }
  });
  for (auto deadline = std::chrono::steady_clock::now() + 10s; !*started && std::chrono::steady_clock::now() < deadline;)
    std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(*started) << "the call did not reach node-c";  // not fatal: the caller thread must be joined
  agent_b->killed = true;
  agent_b->p->signal(SIGKILL);
  EXPECT_EQ(agent_b->p->wait(10s), 128 + SIGKILL);
  auto killed = std::chrono::steady_clock::now();
  caller.join();
  *release = true;
  // Long before the call's own timeout: the route broke.
  EXPECT_LT(std::chrono::steady_clock::now() - killed, 10s);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->code(), channel_errc::route_broken);
  EXPECT_NE(std::string(failed->what()).find("call slow on \"node-c (route " + ra->id() + ")\""), std::string::npos) << failed->what();
  EXPECT_NE(std::string(failed->what()).find("is broken at hop agent-b"), std::string::npos) << failed->what();
  agent_b.reset();
}

TEST_F(AgentChain, ListsTheNextHopsAtEachNode) {
  auto own = a->routes.hops({}, 5s);
  EXPECT_NE(std::find(own.begin(), own.end(), "agent-a"), own.end());
  // agent-b logs in to agent-a's hub on its own time.
  std::vector<std::string> behind_a;
  for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
    behind_a = a->routes.hops({"agent-a"}, 5s);
    if (!behind_a.empty()) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(behind_a, std::vector<std::string>{"agent-b"});
  EXPECT_EQ(a->routes.hops({"agent-a", "agent-b"}, 5s), std::vector<std::string>{"node-c"});
  // From the other end, the same agents list the other way.
  EXPECT_EQ(c->routes.hops({"agent-b"}, 5s), std::vector<std::string>{"agent-a"});
  auto up = c->routes.hops({"agent-b", "agent-a"}, 5s);
  EXPECT_NE(std::find(up.begin(), up.end(), "node-a"), up.end());
  // A route end does not relay; a name that is not there is named.
  auto e = catch_channel_error([&] { (void)a->routes.hops({"agent-a", "agent-b", "node-c"}, 5s); });
  EXPECT_EQ(e.code(), channel_errc::remote_failure);
  EXPECT_NE(std::string(e.what()).find("node-c is a route end"), std::string::npos) << e.what();
  e = catch_channel_error([&] { (void)a->routes.hops({"agent-a", "agent-x"}, 5s); });
  EXPECT_NE(std::string(e.what()).find("agent-x is not online on agent-a's downstream hub"), std::string::npos) << e.what();
  // node-a comes back as a new endpoint (a new process, like each `xgate hops`): the agents
  // answer it on a new stream, which its fresh inbox takes.
  a.reset();
  a = std::make_unique<route_end>(hub1_url, "node-a", token_a);
  ASSERT_TRUE(a->ep->wait_connected(10s));
  EXPECT_EQ(a->routes.hops({"agent-a", "agent-b"}, 5s), std::vector<std::string>{"node-c"});
}

TEST_F(AgentChain, RouteOpenRefusalsNameTheHop) {
  auto e = catch_channel_error([&] { (void)a->routes.open({"agent-a", "agent-b", "node-x"}, 10s); });
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       std::string(e.what()).find("agent-b is not online") != std::string::npos && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(50ms);  // agent-b not yet on agent-a's hub
    e = catch_channel_error([&] { (void)a->routes.open({"agent-a", "agent-b", "node-x"}, 10s); });
  }
  EXPECT_EQ(e.code(), channel_errc::route_broken);
  EXPECT_NE(std::string(e.what()).find("broken at hop node-x: node-x is not online on agent-b's downstream hub"),
            std::string::npos)
      << e.what();
  // The last name must be a route end, and an agent is not one.
  e = catch_channel_error([&] { (void)a->routes.open({"agent-a"}, 10s); });
  EXPECT_NE(std::string(e.what()).find("agent-a is a relay agent, not the end of a route"), std::string::npos) << e.what();
}

TEST_F(AgentChain, ThousandMessagesEachWayArriveOnceAndInOrder) {
  auto ra = open_route();
  auto rc = c->routes.accept(5s);
  ASSERT_TRUE(rc);
  EXPECT_EQ(ra->path(), (std::vector<std::string>{"node-a", "agent-a", "agent-b", "node-c"}));
  EXPECT_EQ(rc->path(), (std::vector<std::string>{"node-c", "agent-b", "agent-a", "node-a"}));
  EXPECT_EQ(rc->id(), ra->id());

  constexpr int n = 1000;
  std::thread sa([&] {
    for (int i = 0; i < n; ++i) ra->send("n", body(i));
  });
  std::thread sc([&] {
    for (int i = 0; i < n; ++i) rc->send("n", body(i));
  });
  auto drain = [](route& r, std::vector<std::string>& got) {
    while (got.size() < n) {
      auto m = r.receive(20s);
      if (!m) return;
      EXPECT_EQ(m->seq, got.size() + 1);
      got.push_back(m->body);
    }
  };
  std::vector<std::string> at_a, at_c;
  std::thread da([&] { drain(*ra, at_a); });
  drain(*rc, at_c);
  da.join();
  sa.join();
  sc.join();
  EXPECT_TRUE(ra->flush(10s));
  EXPECT_TRUE(rc->flush(10s));
  EXPECT_EQ(ra->confirmed(), static_cast<std::uint64_t>(n));
  std::this_thread::sleep_for(200ms);  // a duplicate would arrive now
  EXPECT_FALSE(ra->receive(0ms));
  EXPECT_FALSE(rc->receive(0ms));
  ASSERT_EQ(at_a.size(), static_cast<std::size_t>(n));
  ASSERT_EQ(at_c.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(at_c[static_cast<std::size_t>(i)], body(i));
    ASSERT_EQ(at_a[static_cast<std::size_t>(i)], body(i));
  }
  // Closing tells the other end and every hop forgets the route.
  ra->close();
  for (auto deadline = std::chrono::steady_clock::now() + 5s; !rc->broken() && std::chrono::steady_clock::now() < deadline;)
    std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(rc->broken());
  auto e = catch_channel_error([&] { (void)rc->send("n", body(0)); });
  EXPECT_NE(std::string(e.what()).find("was closed at node-a"), std::string::npos) << e.what();
}

TEST_F(AgentChain, AgentKilledMidRouteTellsBothEndsAndDuplicatesNothing) {
  auto ra = open_route();
  auto rc = c->routes.accept(5s);
  ASSERT_TRUE(rc);

  // More than can be sent before the kill at any speed (ASan included): the sender paces
  // itself (~2,000 a second) and is stopped by the broken route, not by running out.
  constexpr int n = 100000;
  std::atomic<int> sent{0};
  std::optional<channel_error> send_error;
  std::thread sa([&] {
    try {
      for (int i = 0; i < n; ++i) {
        ra->send("n", body(i));
        sent = i + 1;
        if (i % 10 == 0) std::this_thread::sleep_for(5ms);  // spread the traffic over the kill
      }
      (void)ra->flush(30s);  // the route breaks first (it throws): what this test is after
    } catch (const channel_error& e) {
      send_error = e;
    }
  });
  std::vector<std::uint64_t> seqs;
  while (seqs.size() < 300) {
    auto m = rc->receive(10s);
    ASSERT_TRUE(m) << "no traffic";
    seqs.push_back(m->seq);
  }
  agent_b->killed = true;
  agent_b->p->signal(SIGKILL);
  EXPECT_EQ(agent_b->p->wait(10s), 128 + SIGKILL);
  auto killed = std::chrono::steady_clock::now();
  // Both ends are told, within a few hop timeouts.
  while (auto m = rc->receive(10s)) seqs.push_back(m->seq);
  ASSERT_TRUE(rc->broken());
  for (auto deadline = killed + 10s; !ra->broken() && std::chrono::steady_clock::now() < deadline;)
    std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(ra->broken());
  EXPECT_LT(std::chrono::steady_clock::now() - killed, 10s);
  sa.join();
  EXPECT_LT(sent.load(), n) << "the traffic ended before the kill";

  EXPECT_EQ(ra->broken_hop(), "agent-b");
  EXPECT_EQ(rc->broken_hop(), "agent-b");
  // The sender's error names the hop and what was not confirmed.
  ASSERT_TRUE(send_error);
  EXPECT_EQ(send_error->code(), channel_errc::route_broken);
  std::string what = send_error->what();
  EXPECT_NE(what.find("is broken at hop agent-b: agent-b is not online on agent-a's downstream hub"), std::string::npos) << what;
  EXPECT_NE(what.find("not confirmed by node-c"), std::string::npos) << what;
  auto e = catch_channel_error([&] { (void)ra->send("n", body(0)); });
  EXPECT_EQ(e.code(), channel_errc::route_broken);
  auto ec = rc->error();
  ASSERT_TRUE(ec);
  EXPECT_NE(std::string(ec->what()).find("broken at hop agent-b: node-c lost its connection to its hub"), std::string::npos)
      << ec->what();

  // Nothing twice, nothing out of order: node-c got 1..k.
  for (std::size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], i + 1);
  EXPECT_LE(ra->confirmed(), seqs.size());
  agent_b.reset();
}

}  // namespace
}  // namespace xgate::channel
