// The xgated binary against clients that abuse it: a thousand slow or long-polling
// connections, floods over the connection limits, slow headers and bodies, a query whose
// answer dwarfs its document, tokens in URLs. Each test starts its own xgated on 127.0.0.1
// with a free port and stops it; the crowds are bounded in count and time.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "files.hpp"
#include "http_test_client.hpp"
#include "test_dir.hpp"

namespace {

using xgate::testing::read_file;

using namespace xgate::server::testing;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

// A plain socket to 127.0.0.1, for crowds (an http_client each would cost an io_context).
class raw_connection {
 public:
  explicit raw_connection(unsigned short port, const char* from = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket: " + std::string(strerror(errno)));
    if (from) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, from, &local.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) throw std::runtime_error("bind");
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect: " + std::string(strerror(errno)));
  }
  ~raw_connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  raw_connection(raw_connection&& o) noexcept : fd_(std::exchange(o.fd_, -1)), in_(std::move(o.in_)) {}
  raw_connection(const raw_connection&) = delete;

  // false when the server has closed the connection
  bool send(const std::string& bytes) { return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()); }
  // Reads until `marker` has arrived; false on EOF or at the deadline.
  bool read_until(const std::string& marker, steady_clock::time_point deadline) {
    while (in_.find(marker) == std::string::npos) {
      if (!fill(deadline)) return false;
    }
    return true;
  }
  // Whether the server closes the connection before the deadline (data before the EOF is kept).
  bool closed_by(steady_clock::time_point deadline) {
    while (fill(deadline)) {
    }
    return eof_;
  }
  const std::string& received() const { return in_; }
  int fd() const { return fd_; }

 private:
  // One read, waiting until the deadline at most (a deadline passed: only what is there).
  bool fill(steady_clock::time_point deadline) {
    if (eof_) return false;
    auto left = std::max<long>(0, std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now()).count());
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    in_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  int fd_ = -1;
  std::string in_;
  bool eof_ = false;
};

// The number in "Name:   N" of /proc/PID/status.
long proc_status(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with(name + ":")) return std::stol(line.substr(name.size() + 1));
  return -1;
}

long open_files(pid_t pid) {
  long n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); ++it)
    ++n;
  return n;
}

// Room for a crowd of sockets in this process.
void raise_open_files(rlim_t want) {
  rlimit r{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &r), 0);
  if (r.rlim_max < want) GTEST_SKIP() << "the hard limit on open files (" << r.rlim_max << ") is below " << want;
  if (r.rlim_cur < want) {
    r.rlim_cur = want;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &r), 0);
  }
}

class XgatedLimitsTest : public ::testing::Test {
 protected:
  std::filesystem::path dir = xgate::store::testing::fresh_dir();
  std::filesystem::path err = dir / "stderr.log";
  std::optional<child_process> server;
  std::string token;
  unsigned short port = 0;

  ~XgatedLimitsTest() override {
    server.reset();
    std::filesystem::remove_all(dir);
  }

  // Adds alice (her token in `token`), then starts xgated with these flags on a free port.
  void start(std::vector<std::string> flags = {}) {
    std::filesystem::create_directories(dir);
    token = xgated_adduser(XGATED_BINARY, (dir / "data").string(), "alice");
    ASSERT_FALSE(token.empty());
    std::vector<std::string> argv{XGATED_BINARY, "--data", (dir / "data").string(), "--listen", "127.0.0.1:0"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    server.emplace(argv, err.string());
    auto line = server->read_line(seconds(20));
    ASSERT_TRUE(line) << read_file(err);
    port = static_cast<unsigned short>(std::stoi(line->substr(line->rfind(':') + 1)));
  }
  // SIGTERM, exit 0; returns the access log.
  std::string stop() {
    server->signal(SIGTERM);
    EXPECT_EQ(server->wait(seconds(20)), 0);
    return read_file(err);
  }
  std::string request(const std::string& method, const std::string& target) {
    return method + " " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\n\r\n";
  }
  // A GET /revision on a new connection: its status and how long it took.
  std::pair<unsigned, steady_clock::duration> timed_get(const std::string& from = {}) {
    auto t0 = steady_clock::now();
    http_client c(port, from);
    unsigned status = c.request(http::verb::get, "/revision", token).result_int();
    return {status, steady_clock::now() - t0};
  }
};

TEST_F(XgatedLimitsTest, AThousandSlowAndLongPollingConnectionsDoNotDelayAGetNorCostThreads) {
  raise_open_files(4096);
  start({"--threads", "2", "--store-threads", "2", "--max-connections-per-address", "2000", "--header-timeout", "60"});
  long threads_idle = proc_status(server->pid(), "Threads");
  long files_idle = open_files(server->pid());
  constexpr int slow = 800, polls = 200;
  std::vector<raw_connection> crowd;
  crowd.reserve(slow + polls);
  // slowloris: a request's headers, one piece at a time, never finished
  for (int i = 0; i < slow; ++i) {
    crowd.emplace_back(port);
    ASSERT_TRUE(crowd.back().send("GET /revision HTTP/1.1\r\nHost: x\r\n"));
  }
  for (int i = 0; i < polls; ++i) {
    crowd.emplace_back(port);
    ASSERT_TRUE(crowd.back().send(request("GET", "/watch/crowd?after=0&timeout=60000")));
  }
  // every one of them accepted and held open by the server
  auto deadline = steady_clock::now() + seconds(20);
  while (open_files(server->pid()) < files_idle + slow + polls && steady_clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(50));
  ASSERT_GE(open_files(server->pid()), files_idle + slow + polls);
  for (int i = 0; i < slow; ++i) ASSERT_TRUE(crowd[i].send("X-Slow: 1\r\n"));

  for (int i = 0; i < 5; ++i) {
    auto [status, took] = timed_get();
    EXPECT_EQ(status, 200u);
    EXPECT_LT(took, seconds(1)) << "GET " << i << " took " << std::chrono::duration_cast<milliseconds>(took).count() << " ms";
  }
  long threads_busy = proc_status(server->pid(), "Threads");
  EXPECT_EQ(threads_busy, threads_idle) << "threads grew with connections";
  EXPECT_LE(threads_busy, 12);

  // one write answers every long poll
  {
    http_client c(port);
    EXPECT_EQ(c.request(http::verb::put, "/store/crowd/x", token, "<x/>").result_int(), 201);
  }
  deadline = steady_clock::now() + seconds(10);
  int answered = 0;
  for (int i = slow; i < slow + polls; ++i) answered += crowd[i].read_until("</changes>", deadline);
  EXPECT_EQ(answered, polls);
  EXPECT_NE(crowd[slow].received().find("name=\"crowd/x\""), std::string::npos) << crowd[slow].received();
  crowd.clear();
  stop();
}

TEST_F(XgatedLimitsTest, ConnectionsOverTheLimitsGet503AndOtherAddressesAreServed) {
  start({"--max-connections-per-address", "10", "--max-connections", "20"});
  std::vector<raw_connection> held;
  for (int i = 0; i < 10; ++i) held.emplace_back(port);
  auto deadline = steady_clock::now() + seconds(10);
  // the eleventh from 127.0.0.1
  raw_connection over(port);
  ASSERT_TRUE(over.send(request("GET", "/revision")));
  EXPECT_TRUE(over.closed_by(deadline));
  const std::string& r = over.received();
  EXPECT_TRUE(r.starts_with("HTTP/1.1 503 Service Unavailable\r\n")) << r;
  EXPECT_NE(r.find("\r\nRetry-After: 1\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("\r\nX-Xgate-Error: unavailable\r\n"), std::string::npos) << r;
  EXPECT_TRUE(r.ends_with("\r\n\r\ntoo many connections from 127.0.0.1 (limit 10 per address); try again later\n")) << r;

  // another address is served meanwhile
  auto [status, took] = timed_get("127.0.0.2");
  EXPECT_EQ(status, 200u);
  EXPECT_LT(took, seconds(1));
  std::this_thread::sleep_for(milliseconds(300));  // until the server has seen that one close
  // the total: 10 from .1 and 10 from .2 fill it; .3 is refused
  for (int i = 0; i < 10; ++i) held.emplace_back(port, "127.0.0.2");
  raw_connection third(port, "127.0.0.3");
  EXPECT_TRUE(third.closed_by(deadline));
  EXPECT_TRUE(third.received().starts_with("HTTP/1.1 503")) << third.received();
  EXPECT_NE(third.received().find("too many connections to this server (limit 20); try again later"), std::string::npos);
  // freed slots serve again
  held.clear();
  unsigned after = 0;
  while (after != 200 && steady_clock::now() < deadline) {
    after = timed_get().first;
    if (after != 200) std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(after, 200u);
  stop();
}

TEST_F(XgatedLimitsTest, SlowHeadersAndBodiesAreCutAtTheirDeadlines) {
  start({"--header-timeout", "1", "--body-timeout", "1"});
  // a byte every 200 ms keeps an idle timeout from firing, not the header deadline
  raw_connection headers(port);
  raw_connection body(port);
  ASSERT_TRUE(headers.send("GET /revision HTTP/1.1\r\nHost: x\r\n"));
  ASSERT_TRUE(body.send("PUT /store/slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\nContent-Length: 100\r\n\r\n<a>"));
  auto t0 = steady_clock::now();
  bool headers_open = true, body_open = true;
  while ((headers_open || body_open) && steady_clock::now() - t0 < seconds(5)) {
    std::this_thread::sleep_for(milliseconds(200));
    if (headers_open) headers_open = headers.send("X");
    if (body_open) body_open = body.send("x");
    // a closed socket may still take one send; its EOF shows first
    if (headers_open && headers.closed_by(steady_clock::now())) headers_open = false;
    if (body_open && body.closed_by(steady_clock::now())) body_open = false;
  }
  EXPECT_FALSE(headers_open) << "slow headers were not cut";
  EXPECT_FALSE(body_open) << "a slow body was not cut";
  EXPECT_LT(steady_clock::now() - t0, seconds(4));
  EXPECT_EQ(timed_get().first, 200u);
  stop();
}

TEST_F(XgatedLimitsTest, AQueryAnswerOverMaxResponseIs507) {
  start({"--max-response", "1000000"});
  // 60 nested elements around 40 KB of text: //* repeats the text once per element (2.4 MB)
  std::string doc;
  for (int i = 0; i < 60; ++i) doc += "<e>";
  doc += std::string(40000, 't');
  for (int i = 0; i < 60; ++i) doc += "</e>";
  http_client c(port);
  ASSERT_EQ(c.request(http::verb::put, "/store/deep", token, doc).result_int(), 201);
  response r = c.request(http::verb::get, "/query/deep?xpath=%2F%2F*", token);
  EXPECT_EQ(r.result_int(), 507);
  EXPECT_EQ(header(r, "X-Xgate-Error"), "too_large");
  EXPECT_EQ(r.body(), "query answer larger than the server's limit of 1000000 bytes\n");
  // the connection goes on, and an answer within the limit is sent
  r = c.request(http::verb::get, "/query/deep?xpath=count(%2F%2F*)", token);
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_NE(r.body().find("<value>60</value>"), std::string::npos) << r.body();
  // the browser view indents: 80 chains 100 deep grow from 56 KB to about 1.8 MB
  std::string wide = "<r>";
  for (int chain = 0; chain < 80; ++chain) {
    for (int i = 0; i < 100; ++i) wide += "<e>";
    for (int i = 0; i < 100; ++i) wide += "</e>";
  }
  wide += "</r>";
  ASSERT_EQ(c.request(http::verb::put, "/store/wide", token, wide).result_int(), 201);
  r = c.request(http::verb::get, "/view/wide", token);
  EXPECT_EQ(r.result_int(), 507);
  EXPECT_NE(r.body().find("document view larger than the server&#39;s limit of 1000000 bytes"), std::string::npos) << r.body();
  std::string log = stop();
  EXPECT_NE(log.find(" GET /query/deep?xpath=%2F%2F* 507 alice "), std::string::npos) << log;
}

TEST_F(XgatedLimitsTest, TheChangeLogKeepsKeptChangesAndAPageAtMost10000) {
  start({"--kept-changes", "3"});
  http_client c(port);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(c.request(http::verb::put, "/store/k/" + std::to_string(i), token, "<k/>").result_int(), 201);
  response r = c.request(http::verb::get, "/watch/k?after=0&timeout=0", token);
  EXPECT_EQ(r.result_int(), 410);
  EXPECT_EQ(r.body(), "store: watch \"k\": changes after revision 0 are no longer kept (oldest kept: 3)\n");
  r = c.request(http::verb::get, "/watch/k?after=2&timeout=0&limit=1", token);
  EXPECT_EQ(r.body(), "<changes last=\"3\"><change revision=\"3\" kind=\"written\" name=\"k/2\"/></changes>");
  r = c.request(http::verb::get, "/watch/k?after=2&limit=10001", token);
  EXPECT_EQ(r.result_int(), 400);
  stop();
}

TEST_F(XgatedLimitsTest, TokensInAnyTargetNeverReachTheAccessLog) {
  start();
  std::string secret = token.substr(5);  // the random part, without xgt1_
  std::string encoded;                    // every character percent-encoded
  for (unsigned char ch : token) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%%%02X", ch);
    encoded += buf;
  }
  std::vector<std::string> targets = {"/browse/?token=" + token,
                                      "/store/x?token=" + token,
                                      "/logout?token=" + token,
                                      "/nosuchroute/" + token,
                                      "/view/" + token,
                                      "/store/" + token,
                                      "/list?access_token=" + secret,
                                      "/watch?after=0&timeout=0&key=" + secret,
                                      "/nosuchroute/" + encoded,
                                      "/query?xpath=%2F%2F" + encoded,
                                      "/login?token=" + token};
  {
    http_client c(port);
    for (auto& t : targets) c.request(http::verb::get, t, token);
  }
  std::string log = stop();
  EXPECT_EQ(log.find(secret), std::string::npos) << log;
  EXPECT_EQ(log.find(secret.substr(0, 12)), std::string::npos) << log;
  EXPECT_EQ(log.find("xgt1"), std::string::npos) << log;
  // still one line per request, the route visible
  std::istringstream lines(log);
  std::string line;
  std::size_t count = 0;
  while (std::getline(lines, line)) count += line.find(" GET /") != std::string::npos;
  EXPECT_EQ(count, targets.size()) << log;
  EXPECT_NE(log.find(" GET /store/x?token=REDACTED 400 alice "), std::string::npos) << log;
  EXPECT_NE(log.find(" GET /nosuchroute/REDACTED 404 - "), std::string::npos) << log;
}

}  // namespace
