// Typed method calls over a real hub on 127.0.0.1: typed calls, faults, timeouts, and a result
// that travels by reference through the store.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <numeric>

#include <xgate/channel.hpp>
#include <xgate/channel/method.hpp>
#include <xgate/results/results.hpp>
#include <xgate/store/store.hpp>

#include "test_dir.hpp"
#include "test_util.hpp"

namespace methodtest {
struct SumArgs {
  std::vector<long> numbers;
};
XGATE_TYPE(SumArgs, "methodtest.SumArgs", 1, (), (numbers))
struct Sum {
  long total = 0;
  std::string by;
};
XGATE_TYPE(Sum, "methodtest.Sum", 1, (), (total, by))
struct Report {
  std::vector<std::string> lines;
};
XGATE_TYPE(Report, "methodtest.Report", 1, (), (lines))
}  // namespace methodtest

namespace xgate::channel {
namespace {

using namespace std::chrono_literals;
using namespace methodtest;
using testing::catch_channel_error;

class Method : public ::testing::Test {
 protected:
  std::filesystem::path dir = store::testing::fresh_dir();
  std::unique_ptr<store::store> st = std::make_unique<store::store>(dir);
  std::unique_ptr<hub> h;
  std::unique_ptr<tcp_hub_server> server;

  void SetUp() override {
    h = std::make_unique<hub>(*st, hub_options{});
    server = std::make_unique<tcp_hub_server>(*h, tcp_server_options{.address = "127.0.0.1", .port = 0});
    server->start();
  }
  void TearDown() override {
    server->stop();
    h->stop();
    server.reset();
    h.reset();
    st.reset();
    std::filesystem::remove_all(dir);
  }
  endpoint_options options(const std::string& name, methods& m) {
    endpoint_options o;
    o.hub = server->url();
    o.name = name;
    o.secret = st->issue_credential(store::caller(name), {});
    o.reconnect_min = 10ms;
    o.on_message = m.on_message();
    return o;
  }
};

TEST_F(Method, TypedCallsFaultsAndTimeouts) {
  methods ma, mb;
  endpoint a(options("alice", ma)), b(options("bob", mb));
  ma.bind(a);
  mb.bind(b);
  mb.serve<SumArgs, Sum>("sum", [](const SumArgs& args, const call_info& info) {
    return Sum{std::accumulate(args.numbers.begin(), args.numbers.end(), 0L), info.caller};
  });
  mb.serve<SumArgs, Sum>("fail", [](const SumArgs&, const call_info&) -> Sum { throw std::runtime_error("disk on fire"); });
  mb.serve<SumArgs, Sum>("slow", [](const SumArgs&, const call_info&) {
    std::this_thread::sleep_for(300ms);
    return Sum{};
  });
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(5s)) << a.last_error();
  ASSERT_TRUE(b.wait_connected(5s)) << b.last_error();

  Sum s = ma.call<Sum>("bob", "sum", SumArgs{{1, 2, 3, 4}}, 5s);
  EXPECT_EQ(s.total, 10);
  EXPECT_EQ(s.by, "alice");  // the hub authenticated the caller

  channel_error none = catch_channel_error([&] { (void)ma.call<Sum>("bob", "product", SumArgs{}, 5s); });
  EXPECT_EQ(none.code(), channel_errc::no_method);
  EXPECT_EQ(std::string(none.what()), "channel: call product on \"bob\": bob serves no method \"product\"");

  channel_error failed = catch_channel_error([&] { (void)ma.call<Sum>("bob", "fail", SumArgs{}, 5s); });
  EXPECT_EQ(failed.code(), channel_errc::remote_failure);
  EXPECT_EQ(std::string(failed.what()), "channel: call fail on \"bob\": disk on fire");

  // Arguments of another type than the method takes: refused by bob's type check.
  channel_error wrong = catch_channel_error([&] { (void)ma.call<Sum>("bob", "sum", Sum{}, 5s); });
  EXPECT_EQ(wrong.code(), channel_errc::wrong_body_type);
  EXPECT_NE(std::string(wrong.what()).find("methodtest.SumArgs"), std::string::npos) << wrong.what();

  channel_error late = catch_channel_error([&] { (void)ma.call<Sum>("bob", "slow", SumArgs{}, 50ms); });
  EXPECT_EQ(late.code(), channel_errc::timeout);
  EXPECT_EQ(std::string(late.what()), "channel: call slow on \"bob\": no reply within 50 ms");

  // Calls still work after all that (the late reply was dropped).
  EXPECT_EQ(ma.call<Sum>("bob", "sum", SumArgs{{5}}, 5s).total, 5);
  EXPECT_EQ(catch_channel_error([&] { (void)ma.call<Sum>("bob", "bad method!", SumArgs{}, 5s); }).code(),
            channel_errc::bad_envelope);
  ma.unbind();
  mb.unbind();
}

// A caller whose credential allows some methods: the hub refuses the others at once (not at
// the call's timeout), and the receiver refuses them too when a call reaches it stamped so.
TEST_F(Method, ACallOutsideTheCallersMethodsIsAccessDenied) {
  methods ma, mb;
  endpoint_options ao = options("alice", ma);
  store::credential_request narrowed;
  narrowed.methods = {"sum"};
  ao.secret = st->issue_credential(store::caller("alice"), narrowed);
  ao.on_error = ma.on_error();
  endpoint a(ao), b(options("bob", mb));
  ma.bind(a);
  mb.bind(b);
  std::atomic<int> wiped{0};
  mb.serve<SumArgs, Sum>("sum", [](const SumArgs& args, const call_info&) {
    return Sum{std::accumulate(args.numbers.begin(), args.numbers.end(), 0L), "bob"};
  });
  mb.serve<SumArgs, Sum>("wipe", [&](const SumArgs&, const call_info&) {
    ++wiped;
    return Sum{};
  });
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(5s)) << a.last_error();
  ASSERT_TRUE(b.wait_connected(5s)) << b.last_error();

  EXPECT_EQ(ma.call<Sum>("bob", "sum", SumArgs{{1, 2}}, 5s).total, 3);
  auto t0 = std::chrono::steady_clock::now();
  channel_error denied = catch_channel_error([&] { (void)ma.call<Sum>("bob", "wipe", SumArgs{}, 30s); });
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s);  // the refusal, not the timeout
  EXPECT_EQ(denied.code(), channel_errc::access_denied);
  const std::string what = denied.what();
  EXPECT_TRUE(what.starts_with("channel: call wipe on \"bob\": message alice/")) << what;
  EXPECT_TRUE(what.ends_with(" to \"bob\": method \"wipe\" is not among the methods credential " +
                             st->authenticate(ao.secret).credential_id() + " allows (sum)"))
      << what;
  EXPECT_EQ(ma.call<Sum>("bob", "sum", SumArgs{{4}}, 5s).total, 4);  // and calls go on

  // The receiver's own check: a call stamped with limits that exclude it never reaches the
  // handler; the caller gets the fault access_denied.
  endpoint_options co = options("carol", ma);
  co.on_message = {};
  endpoint c(co);
  c.start();
  ASSERT_TRUE(c.wait_connected(5s));
  envelope call;
  call.from = "carol";
  call.to = "bob";
  call.kind = "call.wipe";
  call.correlation = "c-1";
  call.id = "carol/0123456789abcdef/1";
  call.seq = 1;
  call.body = "<x/>";
  call.sender_methods = {"sum"};
  mb.on_message()(call);
  auto fault = c.receive(5s);
  ASSERT_TRUE(fault);
  EXPECT_EQ(fault->kind, "fault");
  EXPECT_EQ(fault->correlation, "c-1");
  method_fault f = from_xml<method_fault>(fault->body);
  EXPECT_EQ(f.code, "access_denied");
  EXPECT_EQ(f.reason, "bob refuses method \"wipe\" from \"carol\": its credential allows only sum");
  EXPECT_EQ(wiped, 0);
  c.stop();
  ma.unbind();
  mb.unbind();
}

TEST_F(Method, ALargeResultTravelsByReference) {
  methods ma, mb;
  endpoint a(options("alice", ma)), b(options("bob", mb));
  ma.bind(a);
  mb.bind(b);
  // bob keeps the report in the store and answers with a reference alice can read.
  auto bob_store = store::local_session(*st, "bob");
  mb.serve<SumArgs, results::result_ref>("report", [&](const SumArgs& args, const call_info&) {
    Report r;
    for (long n : args.numbers) r.lines.push_back(std::string(1000, static_cast<char>('a' + n % 26)));
    return results::publish(*bob_store, "reports/1", r);
  });
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_connected(5s));
  ASSERT_TRUE(b.wait_connected(5s));
  std::vector<long> many(2000);
  std::iota(many.begin(), many.end(), 0);
  results::result_ref ref = ma.call<results::result_ref>("bob", "report", SumArgs{many}, 5s);
  results::results_gate<Report> report(ref, results::opener_for(*st));
  ASSERT_EQ(report->lines.size(), 2000u);  // 2 MB: larger than a message may be
  EXPECT_EQ(report->lines[27], std::string(1000, 'b'));
  ma.unbind();
  mb.unbind();
}

}  // namespace
}  // namespace xgate::channel
