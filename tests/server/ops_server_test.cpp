// ops_server: the operators' port of a process without an HTTP API of its own (migrate node).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>

#include <xgate/server/ops_server.hpp>

#include "http_test_client.hpp"

namespace {

using namespace xgate::server::testing;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

TEST(OpsServer, AnswersMetricsHealthAndReadinessAndNothingElse) {
  std::atomic<int> scrapes{0};
  std::atomic<bool> ready{false};
  xgate::server::ops_server s({.metrics = [&](xgate::metrics::text& out) {
                                 out.family("xgate_test_scrapes_total", "counter", "Scrapes so far.");
                                 out.sample("xgate_test_scrapes_total", {}, ++scrapes);
                               },
                               .readiness = [&]() -> std::string { return ready ? "" : "not logged in to the hub"; }});
  s.start();
  ASSERT_GT(s.port(), 0);
  EXPECT_EQ(s.url(), "http://127.0.0.1:" + std::to_string(s.port()));
  auto get = [&](http::verb m, const std::string& target) { return http_client(s.port()).request(m, target); };

  response r = get(http::verb::get, "/metrics");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(header(r, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_TRUE(r.body().starts_with("# HELP xgate_build_info ")) << r.body();
  EXPECT_NE(r.body().find("\nxgate_test_scrapes_total 1\n"), std::string::npos) << r.body();
  EXPECT_NE(get(http::verb::get, "/metrics").body().find("\nxgate_test_scrapes_total 2\n"), std::string::npos);

  r = get(http::verb::get, "/healthz");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "ok\n");
  r = get(http::verb::get, "/readyz");
  EXPECT_EQ(r.result_int(), 503);
  EXPECT_EQ(r.body(), "not ready: not logged in to the hub\n");
  ready = true;
  r = get(http::verb::head, "/readyz");
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "");
  EXPECT_EQ(header(r, "Content-Length"), "6");

  r = get(http::verb::get, "/store/x");
  EXPECT_EQ(r.result_int(), 404);
  EXPECT_EQ(r.body(), "no such route: /store/x (this port serves /metrics, /healthz, /readyz)\n");
  r = get(http::verb::post, "/metrics");
  EXPECT_EQ(r.result_int(), 405);
  EXPECT_EQ(r.body(), "method POST not allowed here (allowed: GET, HEAD)\n");
  EXPECT_EQ(header(r, "Allow"), "GET, HEAD");
  r = get(http::verb::get, "/metrics?name=x");
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_EQ(r.body(), "bad query: /metrics takes no parameters\n");
  EXPECT_EQ(scrapes, 2) << "refused requests run no writer";
}

// A client that connects and says nothing holds a socket until the deadline, never the
// thread: a scrape beside it is answered, and past max_connections one more is closed.
TEST(OpsServer, SilentClientsAreCutAtTheDeadlineAndBoundedInNumber) {
  xgate::server::ops_server s({.timeout = milliseconds(300), .max_connections = 2});
  s.start();
  asio::io_context ioc;
  tcp::socket silent(ioc);
  silent.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), s.port()));
  EXPECT_EQ(http_client(s.port()).request(http::verb::get, "/healthz").result_int(), 200);
  tcp::socket second(ioc), third(ioc);
  second.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), s.port()));
  std::this_thread::sleep_for(milliseconds(50));  // the server has taken the second
  third.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), s.port()));
  char b[16];
  boost::system::error_code ec;
  const auto t0 = steady_clock::now();
  third.read_some(asio::buffer(b), ec);
  EXPECT_EQ(ec, asio::error::eof) << "over the limit: closed at once";
  EXPECT_LT(steady_clock::now() - t0, milliseconds(250));
  silent.read_some(asio::buffer(b), ec);
  EXPECT_EQ(ec, asio::error::eof) << "closed at the deadline";
  EXPECT_LT(steady_clock::now() - t0, milliseconds(3000));
  EXPECT_EQ(http_client(s.port()).request(http::verb::get, "/healthz").result_int(), 200);
  s.stop();
  s.stop();  // idempotent
}

TEST(OpsServer, AnAddressInUseIsASystemErrorNamingIt) {
  xgate::server::ops_server a({});
  a.start();
  xgate::server::ops_server b({.port = a.port()});
  try {
    b.start();
    FAIL() << "bound twice";
  } catch (const std::system_error& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with("cannot listen on 127.0.0.1:" + std::to_string(a.port()) + ": ")) << e.what();
  }
  EXPECT_THROW(a.start(), std::logic_error);
}

}  // namespace
