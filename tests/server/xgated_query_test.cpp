// The xgated binary against expensive queries and hostile storage: a quadratic XPath on
// millions of elements, a client that hangs up during one, SIGTERM during one, writers and
// map growth alongside one, invalid UTF-8, a full disk, a store others may write. Each test
// starts its own xgated on 127.0.0.1 with a free port and stops it.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "files.hpp"
#include "http_test_client.hpp"
#include "test_dir.hpp"

namespace {

using xgate::testing::read_file;

using namespace xgate::server::testing;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

std::string many_elements(int n) {
  std::string xml = "<r>";
  for (int i = 0; i < n; ++i) xml += "<e/>";
  return xml + "</r>";
}

// For every element, every element again: hours on a few hundred thousand elements.
constexpr const char* quadratic_query = "/query/many?xpath=count(%2F%2F*%5Bcount(%2F%2F*)%3E0%5D)";

// Sends a request on a socket of its own and leaves it running; closing the socket hangs up.
class raw_request {
 public:
  raw_request(unsigned short port, const std::string& bytes) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect");
    if (::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size())) throw std::runtime_error("send");
  }
  ~raw_request() { hang_up(); }
  void hang_up() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

class XgatedQueryTest : public ::testing::Test {
 protected:
  std::filesystem::path dir = xgate::store::testing::fresh_dir();
  std::filesystem::path data = dir / "data";
  std::filesystem::path err = dir / "stderr.log";
  std::optional<child_process> server;
  std::string token;
  unsigned short port = 0;
  bool mounted = false;

  ~XgatedQueryTest() override {
    server.reset();
    if (mounted) ::umount2(data.c_str(), MNT_DETACH);
    std::filesystem::remove_all(dir);
  }

  // Adds alice (her token in `token`), then starts xgated with these flags on a free port.
  void start(std::vector<std::string> flags = {}) {
    std::filesystem::create_directories(dir);
    token = xgated_adduser(XGATED_BINARY, data.string(), "alice");
    ASSERT_FALSE(token.empty());
    std::vector<std::string> argv{XGATED_BINARY, "--data", data.string(), "--listen", "127.0.0.1:0"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    server.emplace(argv, err.string());
    auto line = server->read_line(seconds(20));
    ASSERT_TRUE(line) << read_file(err);
    port = static_cast<unsigned short>(std::stoi(line->substr(line->rfind(':') + 1)));
  }
  std::string stop() {
    server->signal(SIGTERM);
    EXPECT_EQ(server->wait(seconds(20)), 0);
    return read_file(err);
  }
  std::string request(const std::string& target) {
    return "GET " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\n\r\n";
  }
  void put_many(int n) {
    http_client c(port);
    ASSERT_EQ(c.request(http::verb::put, "/store/many", token, many_elements(n)).result_int(), 201);
  }
};

TEST_F(XgatedQueryTest, AQuadraticQueryOnThreeMillionElementsIsRefusedWithinItsBudget) {
  start({"--query-time", "2"});
  put_many(3000000);
  auto t0 = steady_clock::now();
  http_client c(port);
  response r = c.request(http::verb::get, quadratic_query, token);
  EXPECT_LT(steady_clock::now() - t0, seconds(6));
  EXPECT_EQ(r.result_int(), 422) << r.body();
  EXPECT_EQ(header(r, "X-Xgate-Error"), "query_too_expensive");
  EXPECT_NE(r.body().find("ran past the query's time budget of 2000 ms"), std::string::npos) << r.body();
  // and the server goes on
  EXPECT_EQ(c.request(http::verb::get, "/revision", token).result_int(), 200);
  stop();
}

TEST_F(XgatedQueryTest, AClientHangingUpCancelsItsQuery) {
  // One store thread: the next request is served only once the query has let go of it.
  start({"--query-time", "600", "--store-threads", "1"});
  put_many(300000);
  {
    raw_request q(port, request(quadratic_query));
    std::this_thread::sleep_for(milliseconds(500));
  }
  auto t0 = steady_clock::now();
  http_client c(port);
  EXPECT_EQ(c.request(http::verb::get, "/revision", token).result_int(), 200);
  EXPECT_LT(steady_clock::now() - t0, seconds(3));
  stop();
}

TEST_F(XgatedQueryTest, QueriesPastMaxQueriesAreRefusedAndOtherRequestsAreServed) {
  start({"--query-time", "600", "--store-threads", "2", "--max-queries", "1"});
  put_many(300000);
  raw_request q(port, request(quadratic_query));
  std::this_thread::sleep_for(milliseconds(500));
  http_client c(port);
  response r = c.request(http::verb::get, "/query/many?xpath=count(%2Fr)", token);
  EXPECT_EQ(r.result_int(), 503) << r.body();
  EXPECT_EQ(header(r, "X-Xgate-Error"), "unavailable");
  EXPECT_EQ(header(r, "Retry-After"), "1");
  EXPECT_NE(r.body().find("query: 1 queries are running (the most this server evaluates at once); try again later"),
            std::string::npos)
      << r.body();
  auto t0 = steady_clock::now();
  EXPECT_EQ(c.request(http::verb::get, "/revision", token).result_int(), 200);
  EXPECT_LT(steady_clock::now() - t0, seconds(5));  // not behind the query's 600 s
  q.hang_up();  // the query is cancelled and its slot freed
  for (int i = 0; i < 50; ++i) {
    r = c.request(http::verb::get, "/query/many?xpath=count(%2Fr)", token);
    if (r.result_int() != 503) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(r.result_int(), 200) << r.body();
  stop();
}

TEST_F(XgatedQueryTest, SigtermStopsTheServerWithinFiveSecondsDuringAQuery) {
  start({"--query-time", "600"});
  put_many(300000);
  raw_request q(port, request(quadratic_query));
  std::this_thread::sleep_for(milliseconds(500));
  auto t0 = steady_clock::now();
  server->signal(SIGTERM);
  EXPECT_EQ(server->wait(seconds(5)), 0) << read_file(err);
  EXPECT_LT(steady_clock::now() - t0, seconds(5));
}

TEST_F(XgatedQueryTest, WritesAndMapGrowthGoOnDuringAnExpensiveQuery) {
  start({"--query-time", "60"});
  put_many(300000);
  raw_request q(port, request(quadratic_query));
  std::this_thread::sleep_for(milliseconds(300));
  http_client c(port);
  std::string big(10 << 20, 'x');
  for (int i = 0; i < 8; ++i) {  // 80 MB: the map (64 MB at first) grows meanwhile
    auto t0 = steady_clock::now();
    EXPECT_EQ(c.request(http::verb::put, "/store/big/" + std::to_string(i), token, "<b>" + big + "</b>").result_int(), 201);
    // Well short of the query's minute, whatever the machine: a write that waited for the
    // query would take that minute. (Under AddressSanitizer, with the query taking a core,
    // a 10 MB write takes up to 4 s.)
    EXPECT_LT(steady_clock::now() - t0, seconds(20)) << "write " << i;
  }
  q.hang_up();
  stop();
}

TEST_F(XgatedQueryTest, InvalidUtf8IsRefusedAtWrite) {
  start();
  http_client c(port);
  response r = c.request(http::verb::put, "/store/u", token, "<\xff>x</\xff>");
  EXPECT_EQ(r.result_int(), 400);
  EXPECT_EQ(header(r, "X-Xgate-Error"), "bad_document");
  EXPECT_EQ(r.body(), "store: write \"u\": not valid UTF-8 at byte offset 1 (byte 0xff)\n");
  EXPECT_EQ(c.request(http::verb::get, "/store/u", token).result_int(), 404);
  stop();
}

TEST_F(XgatedQueryTest, AFullDiskIs507NoSpace) {
  std::filesystem::create_directories(data);
  if (::mount("tmpfs", data.c_str(), "tmpfs", 0, "size=8m,mode=0700") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs: " << std::strerror(errno);
  mounted = true;
  start();
  http_client c(port);
  std::string big(1 << 20, 'x');
  response r;
  for (int i = 0; i < 20; ++i) {
    r = c.request(http::verb::put, "/store/d/" + std::to_string(i), token, "<d>" + big + "</d>");
    if (r.result_int() != 201) break;
  }
  EXPECT_EQ(r.result_int(), 507) << r.body();
  EXPECT_EQ(header(r, "X-Xgate-Error"), "no_space");
  EXPECT_NE(r.body().find("no space left on device"), std::string::npos) << r.body();
  stop();
}

TEST_F(XgatedQueryTest, AStoreOthersMayWriteIsRefusedAtStart) {
  start();
  stop();
  std::filesystem::permissions(data, std::filesystem::perms::others_write, std::filesystem::perm_options::add);
  child_process refused({XGATED_BINARY, "--data", data.string(), "--listen", "127.0.0.1:0"}, err.string());
  EXPECT_EQ(refused.wait(seconds(20)), 1);
  EXPECT_NE(read_file(err).find(data.string() + " has mode 0702: users other than its owner may write it"), std::string::npos)
      << read_file(err);
}

}  // namespace
