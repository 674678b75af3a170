// The xgated binary as a process: adduser, serving, the access log, SIGTERM, bad flags.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <boost/asio/write.hpp>

#include "files.hpp"
#include "http_test_client.hpp"
#include "ops.hpp"
#include "test_dir.hpp"

namespace {

using xgate::testing::read_file;

using namespace xgate::server::testing;
using std::chrono::milliseconds;
using std::chrono::seconds;

class XgatedTest : public ::testing::Test {
 protected:
  std::filesystem::path dir = xgate::store::testing::fresh_dir();
  ~XgatedTest() override { std::filesystem::remove_all(dir); }

  std::string adduser(const std::string& name) { return xgated_adduser(XGATED_BINARY, (dir / "data").string(), name); }
};

TEST_F(XgatedTest, ServesWithAnAddedUserLogsWithoutTokensAndStopsOnSigterm) {
  std::filesystem::create_directories(dir);
  std::string token = adduser("alice");
  EXPECT_TRUE(token.starts_with("xgt1_")) << token;
  EXPECT_EQ(token.find(' '), std::string::npos);

  std::filesystem::path err = dir / "stderr.log";
  child_process server({XGATED_BINARY, "--data", (dir / "data").string(), "--listen", "127.0.0.1:0"}, err.string());
  auto line = server.read_line(seconds(20));
  ASSERT_TRUE(line) << read_file(err);
  const std::string prefix = "store: http://127.0.0.1:";
  ASSERT_TRUE(line->starts_with(prefix)) << *line;
  int port = std::stoi(line->substr(prefix.size()));
  ASSERT_GT(port, 0);
  ASSERT_LT(port, 65536);

  {
    http_client c(static_cast<unsigned short>(port));
    response r = c.request(http::verb::put, "/store/jobs/1", token, "<job><n>1</n></job>");
    EXPECT_EQ(r.result_int(), 201) << r.body();
    r = c.request(http::verb::get, "/store/jobs/1", token);
    EXPECT_EQ(r.result_int(), 200);
    EXPECT_EQ(r.body(), "<job><n>1</n></job>");
    r = c.request(http::verb::get, "/whoami", token);
    EXPECT_TRUE(r.body().starts_with("<whoami principal=\"alice\"")) << r.body();
    EXPECT_EQ(c.request(http::verb::get, "/store/jobs/1", "").result_int(), 401);
    // the browser login too: the token travels in a body and a cookie, neither is logged
    r = c.request(http::verb::post, "/login", "", "token=" + token, {{"Content-Type", "application/x-www-form-urlencoded"}});
    EXPECT_EQ(r.result_int(), 303);
    EXPECT_EQ(header(r, "Set-Cookie"), "xgate_token=" + token + "; HttpOnly; SameSite=Strict; Path=/");
    r = c.request(http::verb::get, "/browse/", "", {}, {{"Cookie", "xgate_token=" + token}});
    EXPECT_EQ(r.result_int(), 200);
  }

  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(seconds(20)), 0);
  std::string log = read_file(err);
  EXPECT_EQ(log.find(token), std::string::npos) << log;
  EXPECT_EQ(log.find("xgt1_"), std::string::npos) << log;
  EXPECT_NE(log.find(" PUT /store/jobs/1 201 alice "), std::string::npos) << log;
  EXPECT_NE(log.find(" GET /store/jobs/1 401 - "), std::string::npos) << log;
  EXPECT_EQ(server.read_all(seconds(2)), "") << "exactly one line on stdout";
}

// Guessing tokens from one address: past --max-failed-logins every request with a token
// from it is 429 (a right token too, the browser's form too) until the window ends, and the
// log says when the limit was reached, without any of the tokens.
TEST_F(XgatedTest, FailedLoginsPastTheLimitAre429UntilTheWindowEnds) {
  std::filesystem::create_directories(dir);
  std::string token = adduser("alice");
  std::filesystem::path err = dir / "stderr.log";
  child_process server({XGATED_BINARY, "--data", (dir / "data").string(), "--listen", "127.0.0.1:0", "--max-failed-logins",
                        "3", "--failed-login-window", "2"},
                       err.string());
  auto line = server.read_line(seconds(20));
  ASSERT_TRUE(line) << read_file(err);
  auto port = static_cast<unsigned short>(std::stoi(line->substr(line->rfind(':') + 1)));
  http_client c(port);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(c.request(http::verb::get, "/whoami", "xgt1_guess" + std::to_string(i)).result_int(), 401);
  auto t0 = std::chrono::steady_clock::now();
  response r = c.request(http::verb::get, "/whoami", token);
  EXPECT_EQ(r.result_int(), 429) << r.body();
  EXPECT_EQ(header(r, "X-Xgate-Error"), "unavailable");
  // what is left of the window, rounded up: 2 s, or 1 s on a machine slow enough
  std::string wait = header(r, "Retry-After");
  EXPECT_TRUE(wait == "2" || wait == "1") << wait;
  EXPECT_NE(r.body().find("too many failed logins from 127.0.0.1 (limit 3 in 2 s); try again in " + wait + " s"),
            std::string::npos)
      << r.body();
  r = c.request(http::verb::post, "/login", "", "token=" + token, {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(r.result_int(), 429);
  // requests without a token are not held up
  EXPECT_EQ(c.request(http::verb::get, "/whoami", "").result_int(), 401);
  std::this_thread::sleep_until(t0 + milliseconds(2100));
  EXPECT_EQ(c.request(http::verb::get, "/whoami", token).result_int(), 200);
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(seconds(20)), 0);
  std::string log = read_file(err);
  EXPECT_NE(log.find(" xgated: failed logins from 127.0.0.1 reached the limit of 3 in 2 s: its requests with a token are "
                     "refused (429) until the window ends\n"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(" GET /whoami 429 - "), std::string::npos) << log;
  EXPECT_EQ(log.find("xgt1_"), std::string::npos) << log;
}

TEST_F(XgatedTest, SigintStopsItToo) {
  child_process server({XGATED_BINARY, "--data", (dir / "data").string(), "--listen", "127.0.0.1:0", "--reap-interval", "0.5",
                        "--max-document", "1000"},
                       (dir.string() + "-err"));
  ASSERT_TRUE(server.read_line(seconds(20)));
  server.signal(SIGINT);
  EXPECT_EQ(server.wait(seconds(20)), 0);
  std::filesystem::remove(dir.string() + "-err");
}

TEST_F(XgatedTest, BadFlagsExit2WithOneLine) {
  std::filesystem::create_directories(dir);
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--bogus"},
           {"--data", (dir / "d").string()},
           {"--data", (dir / "d").string(), "--listen", "localhost"},
           {"--data", (dir / "d").string(), "--listen", "127.0.0.1:99999"},
           {"--data", (dir / "d").string(), "--listen", "127.0.0.1:0", "--max-document", "-5"},
           {"adduser", "--data", (dir / "d").string()},
           {"adduser", "bad name", "--data", (dir / "d").string()}}) {
    args.insert(args.begin(), XGATED_BINARY);
    std::filesystem::path err = dir / "err";
    child_process p(args, err.string());
    std::string out = p.read_all(seconds(20));
    EXPECT_EQ(p.wait(seconds(20)), 2) << args[1];
    EXPECT_EQ(out, "");
    std::string e = read_file(err);
    EXPECT_TRUE(e.starts_with("xgated: ")) << e;
    EXPECT_EQ(e.find('\n'), e.size() - 1) << e;
  }
}

// What an operator scrapes: GET /metrics passes promtool's checks, carries the hub's
// families when xgated runs the hub, and moves with what happens (a refused hub connection);
// /healthz and /readyz answer without a token.
TEST_F(XgatedTest, MetricsPassPromtoolAndCountTheHub) {
  std::filesystem::create_directories(dir);
  std::string token = adduser("alice");
  std::filesystem::path err = dir / "stderr.log";
  child_process server({XGATED_BINARY, "--data", (dir / "data").string(), "--listen", "127.0.0.1:0", "--hub", "127.0.0.1:0"},
                       err.string());
  auto store_line = server.read_line(seconds(20));
  auto hub_line = server.read_line(seconds(20));
  ASSERT_TRUE(store_line && hub_line) << read_file(err);
  auto port = static_cast<unsigned short>(std::stoi(store_line->substr(store_line->rfind(':') + 1)));
  auto hub_port = static_cast<unsigned short>(std::stoi(hub_line->substr(hub_line->rfind(':') + 1)));

  http_client c(port);
  EXPECT_EQ(c.request(http::verb::get, "/healthz").body(), "ok\n");
  response r = c.request(http::verb::get, "/readyz");
  EXPECT_EQ(r.result_int(), 200) << r.body();
  EXPECT_EQ(c.request(http::verb::put, "/store/jobs/1", token, "<job/>").result_int(), 201);
  // A connection that speaks no hub protocol is refused, and counted.
  {
    asio::io_context ioc;
    tcp::socket raw(ioc);
    raw.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), hub_port));
    asio::write(raw, asio::buffer(std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
    boost::system::error_code ec;
    char b[256];
    while (!ec) raw.read_some(asio::buffer(b), ec);  // until the hub closes it
  }
  std::string metrics;
  for (int i = 0; i < 100; ++i) {
    metrics = c.request(http::verb::get, "/metrics").body();
    if (metrics.find("xgate_hub_messages_refused_total 1\n") != std::string::npos) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_NE(metrics.find("xgate_hub_messages_refused_total 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("xgate_hub_endpoints_online 0\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("xgate_hub_messages_delivered_total 0\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("xgate_store_leases_expired_total 0\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("xgate_http_requests_total{route=\"store\",method=\"PUT\",code=\"201\"} 1\n"),
            std::string::npos) << metrics;
  EXPECT_NE(metrics.find("xgate_store_revision "), std::string::npos) << metrics;

  EXPECT_EQ(xgate::testing::promtool_check(metrics, dir), "") << metrics;

  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(seconds(20)), 0);
}

// --log-format json --log-file: one object per line, never a token; SIGHUP reopens the file
// after logrotate moved it; a level that is not one is a usage error.
TEST_F(XgatedTest, JsonLogToAFileReopenedOnSighup) {
  std::filesystem::create_directories(dir);
  std::string token = adduser("alice");
  const std::filesystem::path log = dir / "xgated.log", err = dir / "stderr.log";
  child_process server({XGATED_BINARY, "--data", (dir / "data").string(), "--listen", "127.0.0.1:0", "--log-format", "json",
                        "--log-file", log.string()},
                       err.string());
  auto line = server.read_line(seconds(20));
  ASSERT_TRUE(line) << read_file(err);
  auto port = static_cast<unsigned short>(std::stoi(line->substr(line->rfind(':') + 1)));
  {
    http_client c(port);
    EXPECT_EQ(c.request(http::verb::put, "/store/jobs/1", token, "<job/>").result_int(), 201);
    EXPECT_EQ(c.request(http::verb::get, "/nowhere?token=" + token, token).result_int(), 404);
  }
  std::filesystem::rename(log, dir / "xgated.log.1");
  server.signal(SIGHUP);
  for (int i = 0; i < 100 && !std::filesystem::exists(log); ++i) std::this_thread::sleep_for(milliseconds(20));
  {
    http_client c(port);
    EXPECT_EQ(c.request(http::verb::get, "/store/jobs/1", token).result_int(), 200);
  }
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(seconds(20)), 0);
  EXPECT_EQ(read_file(err), "") << "all of the log went to the file";
  // A request's line is written once its answer is: one may land after the move.
  const std::string before = read_file(dir / "xgated.log.1"), after = read_file(log), both = before + after;
  EXPECT_NE(before.find("\"level\":\"info\",\"component\":\"xgated\",\"message\":\"127.0.0.1:"), std::string::npos) << before;
  EXPECT_NE(both.find("\"fields\":{\"peer\":\"127.0.0.1:"), std::string::npos) << both;
  EXPECT_NE(both.find("\"method\":\"PUT\",\"target\":\"/store/jobs/1\",\"status\":201,\"principal\":\"alice\",\"bytes\":"),
            std::string::npos) << both;
  EXPECT_NE(both.find("\"target\":\"/nowhere?token=REDACTED\",\"status\":404"), std::string::npos) << both;
  EXPECT_EQ(both.find(token), std::string::npos) << both;
  EXPECT_NE(after.find("\"message\":\"SIGHUP: log file " + log.string() + " reopened\"}"), std::string::npos) << after;
  EXPECT_NE(after.find("\"method\":\"GET\""), std::string::npos) << after;
  std::istringstream lines(before + after);
  for (std::string l; std::getline(lines, l);) {
    EXPECT_TRUE(l.starts_with("{\"time\":\"") && l.ends_with("}")) << l;
  }

  child_process bad({XGATED_BINARY, "--data", (dir / "data").string(), "--listen", "127.0.0.1:0", "--log-level", "loud"},
                    err.string());
  EXPECT_EQ(bad.wait(seconds(20)), 2);
  EXPECT_EQ(read_file(err), "xgated: --log-level: \"loud\" is not one of debug, info, warning, error (see xgated --help)\n");
}

TEST_F(XgatedTest, AnAddressInUseExits1) {
  child_process first({XGATED_BINARY, "--data", (dir / "a").string(), "--listen", "127.0.0.1:0"}, dir.string() + "-err1");
  auto line = first.read_line(seconds(20));
  ASSERT_TRUE(line);
  std::string port = line->substr(line->rfind(':') + 1);
  child_process second({XGATED_BINARY, "--data", (dir / "b").string(), "--listen", "127.0.0.1:" + port}, dir.string() + "-err2");
  EXPECT_EQ(second.wait(seconds(20)), 1);
  std::string e = read_file(dir.string() + "-err2");
  EXPECT_NE(e.find("cannot listen on 127.0.0.1:" + port), std::string::npos) << e;
  first.signal(SIGTERM);
  EXPECT_EQ(first.wait(seconds(20)), 0);
  std::filesystem::remove(dir.string() + "-err1");
  std::filesystem::remove(dir.string() + "-err2");
}

}  // namespace
