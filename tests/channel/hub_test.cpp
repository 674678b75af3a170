// The hub and the endpoint over real TCP sockets on 127.0.0.1: an in-process hub on a
// fresh store, endpoints logging in with credentials the store issued.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <sstream>
#include <thread>

#include <xgate/channel.hpp>
#include <xgate/store/store.hpp>

#include "test_dir.hpp"
#include "test_util.hpp"

namespace hubtest {
struct Order {
  long number = 0;
  std::string item;
};
XGATE_TYPE(Order, "hubtest.Order", 1, (), (number, item))
struct Invoice {
  long total = 0;
};
XGATE_TYPE(Invoice, "hubtest.Invoice", 1, (), (total))
}  // namespace hubtest

namespace xgate::channel {
namespace {

using namespace std::chrono_literals;
using store::testing::fresh_dir;
using testing::raw_client;

// Waits (bounded) until pred holds.
template <class P>
bool eventually(P pred, std::chrono::milliseconds timeout = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// A thread-safe stream for the hub's detail log.
struct locked_log {
  std::mutex mu;
  std::ostringstream os;
  std::string text() {
    std::lock_guard lock(mu);
    return os.str();
  }
};

class Hub : public ::testing::Test {
 protected:
  std::filesystem::path dir = fresh_dir();
  std::unique_ptr<store::store> st = std::make_unique<store::store>(dir);
  std::ostringstream log;  // written under the hub's log lock; read after stop
  xgate::logger logger{log};
  std::unique_ptr<hub> h;
  std::unique_ptr<tcp_hub_server> server;

  void SetUp() override { start_hub(); }
  void TearDown() override {
    stop_hub();
    st.reset();
    std::filesystem::remove_all(dir);
  }
  void start_hub(hub_options o = {}) {
    o.log = &logger;
    o.context = "test hub";
    h = std::make_unique<hub>(*st, o);
    server = std::make_unique<tcp_hub_server>(*h, tcp_server_options{.address = "127.0.0.1", .port = port_});
    server->start();
    port_ = server->port();
  }
  void stop_hub() {
    if (server) server->stop();
    if (h) h->stop();
    server.reset();
    h.reset();
  }
  std::string token(const std::string& principal, store::credential_request r = {}) {
    return st->issue_credential(store::caller(principal), r);
  }
  endpoint_options options(const std::string& name, const std::string& secret) {
    endpoint_options o;
    o.hub = server->url();
    o.name = name;
    o.secret = secret;
    o.reconnect_min = 10ms;
    o.reconnect_max = 200ms;
    return o;
  }
  unsigned short port_ = 0;
};

TEST_F(Hub, TwoEndpointsTalkBothWaysWithPresenceAndFlush) {
  std::mutex mu;
  std::vector<frames::presence> seen;
  auto oa = options("alice", token("alice"));
  oa.on_presence = [&](const frames::presence& p) {
    std::lock_guard lock(mu);
    seen.push_back(p);
  };
  endpoint a(oa);
  endpoint b(options("bob/laptop", token("bob")));
  a.start();
  ASSERT_TRUE(a.wait_connected(5s)) << a.last_error();
  b.start();
  ASSERT_TRUE(b.wait_connected(5s)) << b.last_error();
  ASSERT_TRUE(eventually([&] { return a.online() == std::vector<std::string>{"alice", "bob/laptop"}; }));
  EXPECT_TRUE(eventually([&] { return b.online() == std::vector<std::string>{"alice", "bob/laptop"}; }));

  std::string id = a.send("bob/laptop", "chat", "<text>hello</text>");
  EXPECT_TRUE(id.starts_with("alice/")) << id;
  auto m = b.receive(5s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->from, "alice");
  EXPECT_EQ(m->body, "<text>hello</text>");
  EXPECT_EQ(m->id, id);
  b.send("alice", "chat", "<text>hi</text>", m->id);
  auto r = a.receive(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->correlation, id);

  // Typed both ways, in order.
  for (int i = 1; i <= 200; ++i) a.send("bob/laptop", hubtest::Order{i, "x"});
  EXPECT_TRUE(a.flush(5s));
  EXPECT_EQ(a.unacked(), 0u);
  message_codec<hubtest::Order> codec({.principal = "bob"});
  for (int i = 1; i <= 200; ++i) {
    auto e = b.receive(5s);
    ASSERT_TRUE(e) << i;
    EXPECT_EQ(e->kind, "hubtest.Order");
    EXPECT_EQ(codec.open(*e).number, i);
  }

  b.stop();
  EXPECT_TRUE(eventually([&] { return a.online() == std::vector<std::string>{"alice"}; }));
  std::lock_guard lock(mu);
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(seen.front().snapshot);
  EXPECT_EQ(seen.back().entries, (std::vector<frames::presence::entry>{{"bob/laptop", false}}));
}

TEST_F(Hub, OfflineEndpointGetsItsQueueWhenItReturnsAndLogIsQueryable) {
  std::string tb = token("bob");
  endpoint a(options("alice", token("alice")));
  a.start();
  ASSERT_TRUE(a.wait_connected(5s));
  for (int i = 0; i < 50; ++i) a.send("bob", "chat", "<n>" + std::to_string(i) + "</n>");
  ASSERT_TRUE(a.flush(5s));
  EXPECT_EQ(st->list("channel/queue/bob", "xgate-hub").size(), 50u);

  endpoint b(options("bob", tb));
  b.start();
  for (int i = 0; i < 50; ++i) {
    auto m = b.receive(5s);
    ASSERT_TRUE(m) << i;
    EXPECT_EQ(m->body, "<n>" + std::to_string(i) + "</n>");
  }
  // Acknowledged by bob: the queue empties.
  EXPECT_TRUE(eventually([&] { return st->list("channel/queue/bob", "xgate-hub").empty(); }));
  // Every forwarded message has a log entry the sender's and receiver's principals can query.
  auto hits = st->query("log", "//channel.log[event='forwarded' and to='bob']/id", "bob");
  EXPECT_EQ(hits.size(), 50u);
  auto mine = st->query("log", "//channel.log[event='forwarded']/digest", "alice");
  EXPECT_EQ(mine.size(), 50u);
  EXPECT_TRUE(st->query("log", "//channel.log", "mallory").empty());
  // No bodies in the log.
  EXPECT_TRUE(st->query("log", "//channel.log[contains(., '<n>')]", "xgate-hub").empty());
}

// The receiver restarts (a new process under the same name) while the sender's stream goes
// on: the new inbox never saw the stream's start, and takes it up from its first message
// after stream_start_grace instead of holding it forever.
TEST_F(Hub, AReceiverThatRestartsGetsTheRestOfALongLivedSendersStream) {
  std::string tb = token("bob");
  endpoint a(options("alice", token("alice")));
  a.start();
  ASSERT_TRUE(a.wait_connected(5s));
  auto ob = options("bob", tb);
  ob.stream_start_grace = 300ms;
  {
    endpoint b(ob);
    b.start();
    for (int i = 0; i < 3; ++i) a.send("bob", "chat", "<n>" + std::to_string(i) + "</n>");
    for (int i = 0; i < 3; ++i) {
      auto m = b.receive(5s);
      ASSERT_TRUE(m) << i;
      EXPECT_EQ(m->body, "<n>" + std::to_string(i) + "</n>");
    }
    // Until bob's acknowledgements reached the hub: what it never acknowledged would be
    // delivered again to the next process (at least once across a restart, by design).
    EXPECT_TRUE(eventually([&] { return st->list("channel/queue/bob", "xgate-hub").empty(); }));
  }  // bob's process ends
  for (int i = 3; i < 6; ++i) a.send("bob", "chat", "<n>" + std::to_string(i) + "</n>");  // queued at the hub
  ASSERT_TRUE(a.flush(5s));
  endpoint b(ob);  // the new process
  b.start();
  for (int i = 3; i < 8; ++i) {
    if (i == 6) {
      a.send("bob", "chat", "<n>6</n>");  // and the stream goes on, delivered at once now
      a.send("bob", "chat", "<n>7</n>");
    }
    auto m = b.receive(5s);
    ASSERT_TRUE(m) << i;
    EXPECT_EQ(m->body, "<n>" + std::to_string(i) + "</n>");
  }
  EXPECT_FALSE(b.receive(200ms));
}

TEST_F(Hub, LogDaysRemovesTheLogOfOlderDaysOnly) {
  // Log documents of old days (as an older hub run wrote them), and one of today, via traffic.
  const std::vector<std::string> old_days = {"log/2020-01-01/000000.000001-aa-1", "log/2020-01-01/235959.999999-aa-2",
                                             "log/2021-06-30/120000.000000-bb-1"};
  for (const auto& name : old_days) st->write(name, "<channel.log/>", "xgate-hub");
  st->write("logbook/2020-01-01", "<note/>", "xgate-hub");  // not under log/: kept
  stop_hub();
  hub_options o;
  o.log_days = 2;
  start_hub(o);
  EXPECT_TRUE(eventually([&] { return h->stats().log_documents_pruned == old_days.size(); }));
  endpoint a(options("alice", token("alice")));
  a.start();
  ASSERT_TRUE(a.wait_connected(5s));
  a.send("alice", "chat", "<n/>");
  ASSERT_TRUE(a.receive(5s));
  std::vector<std::string> names;
  for (const auto& d : st->list("log", "xgate-hub")) names.push_back(d.name);
  for (const auto& name : old_days) EXPECT_EQ(std::count(names.begin(), names.end(), name), 0) << name;
  EXPECT_FALSE(names.empty());  // today's: a login and the message
  EXPECT_NO_THROW((void)st->info("logbook/2020-01-01", "xgate-hub"));
  EXPECT_EQ(h->stats().log_documents_pruned, old_days.size());
  stop_hub();
  EXPECT_NE(log.str().find("log retention: removed 3 log documents from before "), std::string::npos) << log.str();
}

TEST_F(Hub, SurvivesAHubRestartWithoutLossOrDuplicates) {
  std::string ta = token("alice"), tb = token("bob");
  endpoint a(options("alice", ta));
  endpoint b(options("bob", tb));
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(5s));
  ASSERT_TRUE(b.wait_connected(5s));
  for (int i = 0; i < 300; ++i) a.send("bob", "n", "<n>" + std::to_string(i) + "</n>");
  stop_hub();  // mid-traffic (in-process: a clean stop; the xgated test SIGKILLs)
  start_hub();
  for (int i = 300; i < 600; ++i) a.send("bob", "n", "<n>" + std::to_string(i) + "</n>");
  for (int i = 0; i < 600; ++i) {
    auto m = b.receive(10s);
    ASSERT_TRUE(m) << i;
    ASSERT_EQ(m->body, "<n>" + std::to_string(i) + "</n>");
  }
  EXPECT_FALSE(b.receive(300ms));
  EXPECT_GE(a.reconnects(), 1u);
}

// ---- bad input ---------------------------------------------------------------------

// The log entries of an event, as the hub's principal sees them.
std::size_t log_count(store::store& s, const std::string& predicate) {
  return s.query("log", "//channel.log[" + predicate + "]", "xgate-hub").size();
}

TEST_F(Hub, BadInputIsRefusedLoggedAndOthersAreServed) {
  endpoint a(options("alice", token("alice")));
  endpoint b(options("bob", token("bob")));
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(5s));
  ASSERT_TRUE(b.wait_connected(5s));

  {  // garbage
    raw_client c(port_);
    c.write(std::string("\0\0\0\x05\xff\xff\xff\xff\xff", 9));
    auto fs = c.read_until_closed();
    ASSERT_EQ(fs.size(), 1u);
    auto* e = std::get_if<frames::error>(&fs[0]);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code, channel_errc::bad_frame) << e->reason;
  }
  {  // an oversized length prefix: refused before anything is read
    raw_client c(port_);
    c.write(std::string("\x7f\xff\xff\xff", 4));
    auto fs = c.read_until_closed();
    ASSERT_EQ(fs.size(), 1u);
    auto* e = std::get_if<frames::error>(&fs[0]);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code, channel_errc::frame_too_large) << e->reason;
  }
  std::string tm = token("mallory");
  {  // a wrong secret
    endpoint_credential wrong("xgt1_not-the-secret");
    raw_client c(port_);
    endpoint_credential right(tm);
    frames::hello hi = right.hello("mallory");
    c.send(hi);
    auto ch = c.read_one();
    ASSERT_TRUE(ch && std::holds_alternative<frames::challenge>(*ch));
    c.send(wrong.respond(std::get<frames::challenge>(*ch), "mallory"));
    auto fs = c.read_until_closed();
    ASSERT_EQ(fs.size(), 1u);
    auto* r = std::get_if<frames::refused>(&fs[0]);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, channel_errc::bad_auth);
    EXPECT_EQ(r->reason, "refused");  // the detail stays in the hub's log
  }
  {  // a replayed authentication: the right response to an old challenge
    endpoint_credential right(tm);
    frames::auth old;
    {
      raw_client c(port_);
      c.send(right.hello("mallory"));
      auto ch = c.read_one();
      ASSERT_TRUE(ch);
      old = right.respond(std::get<frames::challenge>(*ch), "mallory");
      c.send(old);
      auto w = c.read_one();
      ASSERT_TRUE(w && std::holds_alternative<frames::welcome>(*w));
    }
    raw_client c(port_);
    c.send(right.hello("mallory"));
    ASSERT_TRUE(c.read_one());
    c.send(old);
    auto fs = c.read_until_closed();
    ASSERT_FALSE(fs.empty());
    auto* r = std::get_if<frames::refused>(&fs[0]);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->code, channel_errc::bad_auth);
  }
  {  // a name the credential may not take
    endpoint m(options("bob/evil", tm));
    m.start();
    auto err = testing::catch_channel_error([&] { (void)m.wait_connected(5s); });
    EXPECT_EQ(err.code(), channel_errc::bad_auth);
    EXPECT_EQ(m.state(), endpoint_state::refused);
  }
  {  // a frame claiming another sender
    endpoint_credential right(tm);
    raw_client c(port_);
    c.send(right.hello("mallory"));
    auto ch = c.read_one();
    c.send(right.respond(std::get<frames::challenge>(*ch), "mallory"));
    frames::message m{1, testing::sample_envelope("alice", "bob", 1, "<forged/>")};
    c.send(m);
    bool got_error = false, got_ack = false;
    for (int i = 0; i < 10 && !(got_error && got_ack); ++i) {
      auto f = c.read_one();
      if (!f) break;
      if (auto* e = std::get_if<frames::error>(&*f)) {
        EXPECT_EQ(e->code, channel_errc::spoofed_sender);
        EXPECT_EQ(e->message_id, m.env.id);
        got_error = true;
      }
      if (std::holds_alternative<frames::ack>(*f)) got_ack = true;
    }
    EXPECT_TRUE(got_error);
    EXPECT_TRUE(got_ack);
  }
  {  // a body of the wrong type at a type check: not delivered, its sender told
    b.expect<hubtest::Order>();
    envelope e = message_codec<hubtest::Invoice>().make("alice", "bob", hubtest::Invoice{7}, "hubtest.Order");
    std::string id = a.send(std::move(e));
    ASSERT_TRUE(eventually([&] {
      for (auto& x : a.errors())
        if (x.message_id == id && x.code == channel_errc::wrong_body_type) return true;
      return false;
    })) << "no wrong_body_type error for " << id;
    EXPECT_FALSE(b.receive(200ms));
  }
  // The others are still served.
  a.send("bob", hubtest::Order{1, "ok"});
  auto m = b.receive(5s);
  ASSERT_TRUE(m);
  EXPECT_EQ(message_codec<hubtest::Order>().open(*m).item, "ok");
  // And every refusal left a log entry.
  ASSERT_TRUE(eventually([&] {
    return log_count(*st, "code='bad_frame'") >= 1 && log_count(*st, "code='frame_too_large'") >= 1 &&
           log_count(*st, "event='auth_failed'") >= 3 && log_count(*st, "code='spoofed_sender'") >= 1 &&
           log_count(*st, "event='rejected' and code='wrong_body_type'") >= 1;
  })) << log.str();
  stop_hub();
  std::string text = log.str();
  EXPECT_NE(text.find("may not take the endpoint name \"bob/evil\""), std::string::npos) << text;
  EXPECT_NE(text.find("wrong response"), std::string::npos) << text;
  EXPECT_EQ(text.find(tm), std::string::npos) << "a secret in the log";
}

TEST_F(Hub, AChannelCredentialMayTakeNamesItsGrantCovers) {
  stop_hub();
  start_hub({.administrators = {"admin"}});
  store::credential_request r;
  r.scope = "channel/endpoints/job";
  // Without the administrator's document a self-issued grant is not enough: else bob could
  // issue himself channel/endpoints/alice/x and be alice/x.
  endpoint early(options("job/16", token("scheduler", r)));
  early.start();
  auto denied = testing::catch_channel_error([&] { (void)early.wait_connected(5s); });
  EXPECT_EQ(denied.code(), channel_errc::bad_auth);
  EXPECT_NE(denied.detail().find("access denied: principal \"scheduler\" may not take the endpoint name \"job/16\""),
            std::string::npos)
      << denied.detail();
  st->write("channel/endpoints/job", "<endpoints/>", "admin",
            {.rights = xgate::rights::owned_by("admin").readers({"scheduler"}).writers({"scheduler"})});
  std::string t = token("scheduler", r);
  endpoint j(options("job/17", t));
  j.start();
  EXPECT_TRUE(j.wait_connected(5s)) << j.last_error();
  store::credential_request bobs;
  bobs.scope = "channel/endpoints";
  endpoint b(options("job/19", token("bob", bobs)));  // bob may not write the admin's document
  b.start();
  EXPECT_THROW((void)b.wait_connected(5s), channel_error);
  // A document bob made himself, nearer the name, neither lets him in nor keeps the
  // scheduler out: only the administrator's documents count.
  st->write("channel/endpoints/job/20", "<endpoints/>", "bob",
            {.rights = xgate::rights::owned_by("bob").readers({"*"}).writers({"bob"})});
  endpoint b20(options("job/20", token("bob", bobs)));
  b20.start();
  EXPECT_THROW((void)b20.wait_connected(5s), channel_error);
  endpoint j20(options("job/20", t));
  j20.start();
  EXPECT_TRUE(j20.wait_connected(5s)) << j20.last_error();
  // A login token (scope "") does not: it would let anyone be anyone.
  endpoint k(options("job/18", token("scheduler")));
  k.start();
  EXPECT_THROW((void)k.wait_connected(5s), channel_error);
}

TEST_F(Hub, WithoutAdministratorsEachPrincipalTakesOnlyItsOwnNames) {
  st->write("channel/endpoints/job", "<endpoints/>", "admin",
            {.rights = xgate::rights::owned_by("admin").readers({"scheduler"}).writers({"scheduler"})});
  store::credential_request r;
  r.scope = "channel/endpoints/job";
  endpoint j(options("job/17", token("scheduler", r)));
  j.start();
  EXPECT_THROW((void)j.wait_connected(5s), channel_error);
  endpoint own(options("scheduler/1", token("scheduler", r)));
  own.start();
  EXPECT_TRUE(own.wait_connected(5s)) << own.last_error();
}

// Revoking a credential ends the session logged in with it (at once for a revocation through
// the hub's store), and its next login is refused; other sessions go on.
TEST_F(Hub, ARevokedCredentialEndsItsSessionAndItsNextLogin) {
  std::string alice = token("alice");
  std::string id = st->credentials(store::caller("alice")).back().id;
  endpoint a(options("alice", alice));
  endpoint b(options("bob", token("bob")));
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(5s)) << a.last_error();
  ASSERT_TRUE(b.wait_connected(5s)) << b.last_error();
  st->revoke_credential(id, store::caller("alice"));
  ASSERT_TRUE(eventually([&] { return a.state() == endpoint_state::refused; }));
  EXPECT_EQ(a.last_error(), "the hub ended the session: bad_auth: endpoint alice: the credential " + id +
                                " was revoked or has expired");
  EXPECT_EQ(testing::catch_channel_error([&] { a.send("bob", "chat", "<late/>"); }).code(), channel_errc::bad_auth);
  endpoint again(options("alice", alice));
  again.start();
  EXPECT_EQ(testing::catch_channel_error([&] { (void)again.wait_connected(5s); }).code(), channel_errc::bad_auth);
  EXPECT_EQ(again.state(), endpoint_state::refused);
  b.send("bob", "chat", "<still-here/>");
  EXPECT_TRUE(b.receive(5s));
  stop_hub();
  EXPECT_NE(log.str().find("hub: ending the session of alice (tcp 127.0.0.1:"), std::string::npos) << log.str();
}

// A credential narrowed to methods: the hub refuses every other kind with access_denied
// naming it (and the stream goes on afresh), and stamps what it lets through with the limits.
TEST_F(Hub, ACredentialLimitedToMethodsSendsOnlyThoseAndItsMessagesSaySo) {
  store::credential_request r;
  r.methods = {"status", "chat"};
  std::string alice = token("alice", r);
  std::string id = st->authenticate(alice).credential_id();
  endpoint a(options("alice", alice));
  endpoint b(options("bob", token("bob")));
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(5s)) << a.last_error();
  ASSERT_TRUE(b.wait_connected(5s)) << b.last_error();

  std::string moved = a.send("bob", "call.move", "<move/>");
  std::string wiped = a.send("bob", "wipe", "<wipe/>");
  ASSERT_TRUE(eventually([&] { return a.errors().size() == 2; }));
  std::vector<frames::error> errors = a.errors();
  EXPECT_EQ(errors[0].code, channel_errc::access_denied);
  EXPECT_EQ(errors[0].message_id, moved);
  EXPECT_EQ(errors[0].reason, "message " + moved + " to \"bob\": method \"move\" is not among the methods credential " + id +
                                  " allows (chat,status)");
  EXPECT_EQ(errors[1].message_id, wiped);
  EXPECT_EQ(errors[1].code, channel_errc::access_denied);  // a new stream after the refusal: not buffer_full

  // Within the limits (also with limits the sender claims for itself): delivered, stamped.
  envelope e;
  e.from = "alice";
  e.to = "bob";
  e.kind = "call.status";
  e.body = "<status/>";
  a.send(e);
  auto m = b.receive(5s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, "call.status");
  EXPECT_EQ(m->sender_methods, (std::vector<std::string>{"chat", "status"}));
  a.send("bob", "reply", "<answer/>");  // answers are always allowed
  m = b.receive(5s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->kind, "reply");
  // bob holds every method: whatever bob claims, alice sees no limits.
  envelope claim;
  claim.from = "bob";
  claim.to = "alice";
  claim.kind = "chat";
  claim.body = "<hi/>";
  claim.sender_methods = {"chat"};
  b.send(claim);
  m = a.receive(5s);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->sender_methods.empty());
  EXPECT_TRUE(b.errors().empty());

  auto refusals = st->query("log", "//channel.log[event='refused'][code='access_denied']", store::caller("xgate-hub"));
  EXPECT_EQ(refusals.size(), 2u);
}

TEST_F(Hub, QueueLimitRefusesWithBufferFullAndTheNextStreamGoesThrough) {
  stop_hub();
  hub_options o;
  o.max_queue_messages = 5;
  start_hub(o);
  std::string tb = token("bob");
  endpoint a(options("alice", token("alice")));
  a.start();
  ASSERT_TRUE(a.wait_connected(5s));
  for (int i = 0; i < 8; ++i) a.send("bob", "n", "<n>" + std::to_string(i) + "</n>");
  ASSERT_TRUE(a.flush(5s));
  ASSERT_TRUE(eventually([&] { return a.errors().size() == 3; }));
  for (auto& e : a.errors()) EXPECT_EQ(e.code, channel_errc::buffer_full);
  endpoint b(options("bob", tb));
  b.start();
  for (int i = 0; i < 5; ++i) {
    auto m = b.receive(5s);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->body, "<n>" + std::to_string(i) + "</n>");
  }
  // The queue drained; the next message goes on a new stream and arrives.
  ASSERT_TRUE(eventually([&] { return st->list("channel/queue/bob", "xgate-hub").empty(); }));
  a.send("bob", "n", "<n>after</n>");
  auto m = b.receive(5s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body, "<n>after</n>");
}

TEST_F(Hub, SilentConnectionsAreClosedAndPingsAnswered) {
  stop_hub();
  hub_options o;
  o.idle_timeout = 300ms;
  o.handshake_timeout = 300ms;
  start_hub(o);
  raw_client c(port_);
  auto t0 = std::chrono::steady_clock::now();
  c.read_until_closed();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  // An endpoint with heartbeats stays.
  auto oa = options("alice", token("alice"));
  oa.heartbeat = 50ms;
  endpoint a(oa);
  a.start();
  ASSERT_TRUE(a.wait_connected(5s));
  std::this_thread::sleep_for(800ms);
  EXPECT_EQ(a.reconnects(), 0u);
  EXPECT_EQ(h->online(), std::vector<std::string>{"alice"});
}

TEST_F(Hub, ExpiredMessagesAreRemovedAndLogged) {
  stop_hub();
  hub_options o;
  o.queue_expiry = std::chrono::seconds(1);
  o.idle_timeout = 400ms;  // the housekeeping ticks at a quarter of it
  start_hub(o);
  std::string tb = token("bob");
  auto oa = options("alice", token("alice"));
  oa.heartbeat = 100ms;
  endpoint a(oa);
  a.start();
  ASSERT_TRUE(a.wait_connected(5s));
  for (int i = 0; i < 3; ++i) a.send("bob", "n", "<n/>");
  ASSERT_TRUE(a.flush(5s));
  ASSERT_TRUE(eventually([&] { return log_count(*st, "event='expired'") == 3; }, 5s));
  EXPECT_TRUE(st->list("channel/queue/bob", "xgate-hub").empty());
  EXPECT_EQ(h->stats().queued, 0u);
  // Later messages of the expired stream would wait forever at bob: refused; the next stream goes through.
  a.send("bob", "n", "<late/>");
  ASSERT_TRUE(eventually([&] { return a.errors().size() == 1; }));
  EXPECT_EQ(a.errors()[0].code, channel_errc::buffer_full);
  a.send("bob", "n", "<fresh/>");
  ASSERT_TRUE(a.flush(5s));
  endpoint b(options("bob", tb));
  b.start();
  auto m = b.receive(5s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->body, "<fresh/>");
}

// Not a benchmark (bench/ has those): a sanity bound, and the numbers in the test output.
TEST_F(Hub, ThroughputAndGroupCommit) {
  std::atomic<int> got{0};
  auto ob = options("bob", token("bob"));
  ob.on_message = [&](envelope) { ++got; };
  endpoint a(options("alice", token("alice")));
  endpoint b(ob);
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(5s));
  ASSERT_TRUE(b.wait_connected(5s));
  const int n = 20000;
  const std::string body = "<b>" + std::string(1000, 'x') + "</b>";
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) a.send("bob", "n", body);
  ASSERT_TRUE(eventually([&] { return got == n; }, 60s)) << got;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  hub_stats s = h->stats();
  std::printf("[ stats    ] %d messages of 1 KB in %.3f s: %.0f messages/s; %llu commits, %.1f operations each, "
              "%.3f ms per commit\n",
              n, secs, n / secs, static_cast<unsigned long long>(s.commits),
              s.commits ? double(s.committed_ops) / double(s.commits) : 0.0,
              s.commits ? std::chrono::duration<double, std::milli>(s.commit_time).count() / double(s.commits) : 0.0);
  EXPECT_EQ(s.messages_forwarded, static_cast<std::uint64_t>(n));
  EXPECT_TRUE(eventually([&] { return h->stats().messages_delivered == static_cast<std::uint64_t>(n); }, 10s))
      << h->stats().messages_delivered << ": every message acknowledged by bob";
}

}  // namespace
}  // namespace xgate::channel
