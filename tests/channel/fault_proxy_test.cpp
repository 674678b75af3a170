// The fault proxy itself: bytes arrive intact through delays, splits and coalescing;
// resets cut connections; HTTP requests get duplicated and responses dropped; it stops
// cleanly with connections open.
#include "fault_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace xgate::channel::testing {
namespace {

// A loopback listener running handle(fd) on a thread per connection.
class tiny_server {
 public:
  template <class F>
  explicit tiny_server(F handle) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0) std::abort();
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, handle] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        workers_.emplace_back([c, handle] {
          handle(c);
          ::close(c);
        });
      }
    });
  }
  ~tiny_server() {
    stop_ = true;
    thread_.join();
    for (auto& w : workers_) w.join();
    ::close(fd_);
  }
  unsigned short port() const { return port_; }

 private:
  int fd_ = -1;
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> workers_;
};

int connect_to(unsigned short port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads until EOF, error, or 2 s of silence.
std::string read_all(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

void echo(int fd) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    if (::send(fd, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) return;
  }
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(FaultProxy, DelaysSplitsAndCoalescingKeepEveryByteInOrder) {
  tiny_server server(echo);
  fault_proxy proxy("127.0.0.1", server.port(),
                    {.seed = 7, .delay = 0.2, .split = 0.3, .coalesce = 0.3, .max_faults = 10000});
  std::string data = random_bytes(std::size_t{1} << 20, 1);
  int fd = connect_to(proxy.port());
  ASSERT_GE(fd, 0);
  std::thread writer([&] {
    for (std::size_t off = 0; off < data.size(); off += 3000) {
      std::size_t n = std::min<std::size_t>(3000, data.size() - off);
      ASSERT_EQ(::send(fd, data.data() + off, n, MSG_NOSIGNAL), static_cast<ssize_t>(n));
    }
    ::shutdown(fd, SHUT_WR);
  });
  std::string back = read_all(fd);
  writer.join();
  ::close(fd);
  EXPECT_EQ(back.size(), data.size());
  EXPECT_TRUE(back == data);
  auto c = proxy.counts();
  EXPECT_EQ(c.connections, 1u);
  EXPECT_GT(c.splits + c.delays + c.coalesces, 0u);
  EXPECT_EQ(c.resets, 0u);
}

TEST(FaultProxy, ResetsCutConnectionsWithinTheBudget) {
  tiny_server server(echo);
  fault_proxy proxy("127.0.0.1", server.port(), {.seed = 3, .reset = 0.5, .max_faults = 2});
  std::size_t cut = 0;
  for (int i = 0; i < 6; ++i) {
    int fd = connect_to(proxy.port());
    ASSERT_GE(fd, 0);
    std::string data = random_bytes(200000, static_cast<unsigned>(i));
    std::thread writer([&] {
      ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      ::shutdown(fd, SHUT_WR);
    });
    std::string back = read_all(fd);
    writer.join();
    ::close(fd);
    if (back != data) {
      ++cut;
      EXPECT_TRUE(data.starts_with(back)) << "a reset must cut the stream, not corrupt it";
    }
  }
  // The budget, then faithful forwarding (both directions of one connection may spend it).
  EXPECT_GE(cut, 1u);
  EXPECT_LE(cut, 2u);
  EXPECT_EQ(proxy.counts().resets, 2u);
}

// A minimal HTTP server: answers every request with its running number.
void http_counter(int fd, std::atomic<int>& requests) {
  std::string in;
  char buf[4096];
  for (;;) {
    std::size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      in.append(buf, static_cast<std::size_t>(n));
    }
    std::size_t length = 0, cl = in.find("Content-Length: ");
    if (cl != std::string::npos && cl < end) length = std::stoul(in.substr(cl + 16));
    while (in.size() < end + 4 + length) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      in.append(buf, static_cast<std::size_t>(n));
    }
    in.erase(0, end + 4 + length);
    std::string body = std::to_string(++requests);
    std::string res = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    ::send(fd, res.data(), res.size(), MSG_NOSIGNAL);
  }
}

TEST(FaultProxy, DuplicatesRequestsOnASecondConnectionAndDropsResponses) {
  std::atomic<int> requests{0};
  tiny_server server([&](int fd) { http_counter(fd, requests); });
  {
    fault_proxy proxy("127.0.0.1", server.port(), {.seed = 1, .http = true, .duplicate_request = 1, .max_faults = 1});
    int fd = connect_to(proxy.port());
    std::string req = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    char buf[256];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    std::string res(buf, static_cast<std::size_t>(n));
    EXPECT_TRUE(res.starts_with("HTTP/1.1 200 OK")) << res;
    for (int i = 0; i < 100 && requests < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(requests, 2);  // the server saw the request twice, the client one response
    EXPECT_EQ(proxy.counts().duplicates, 1u);
    ::close(fd);
  }
  {
    fault_proxy proxy("127.0.0.1", server.port(), {.seed = 1, .http = true, .drop_response = 1, .max_faults = 1});
    int fd = connect_to(proxy.port());
    std::string req = "GET /y HTTP/1.1\r\nHost: h\r\n\r\n";
    ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    pollfd p{fd, POLLIN, 0};
    // Dropped: either the connection closes or nothing comes back.
    if (::poll(&p, 1, 300) > 0) {
      char buf[256];
      EXPECT_LE(::recv(fd, buf, sizeof buf, 0), 0);
    }
    ::close(fd);
    // The next connection goes through faithfully (the budget is spent).
    fd = connect_to(proxy.port());
    ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    char buf[256];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    EXPECT_TRUE(std::string(buf, static_cast<std::size_t>(n)).starts_with("HTTP/1.1 200 OK"));
    ::close(fd);
    EXPECT_EQ(proxy.counts().dropped_responses, 1u);
  }
}

// Reads exactly n bytes (or until EOF, error, or 2 s of silence).
std::string read_n(int fd, std::size_t n) {
  std::string out;
  char buf[4096];
  while (out.size() < n) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) break;
    ssize_t got = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (got <= 0) break;
    out.append(buf, static_cast<std::size_t>(got));
  }
  return out;
}

bool silent_for(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 0;
}

bool wait_held(const fault_proxy& proxy, std::size_t n) {
  for (int i = 0; i < 200 && proxy.held() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return proxy.held() >= n;
}

TEST(FaultProxy, HoldKeepsWhatClientsSendUntilReleasedAndCountsIt) {
  // The server greets each connection first (target->client), then echoes.
  tiny_server server([](int fd) {
    ::send(fd, "hi", 2, MSG_NOSIGNAL);
    echo(fd);
  });
  fault_proxy proxy("127.0.0.1", server.port(), fault_options{});  // no faults
  int a = connect_to(proxy.port());
  ASSERT_GE(a, 0);
  EXPECT_EQ(read_n(a, 2), "hi");
  ASSERT_EQ(::send(a, "one", 3, MSG_NOSIGNAL), 3);
  EXPECT_EQ(read_n(a, 3), "one");
  EXPECT_EQ(proxy.held(), 0u);

  proxy.hold(true);
  ASSERT_EQ(::send(a, "two", 3, MSG_NOSIGNAL), 3);
  ASSERT_TRUE(wait_held(proxy, 1));
  EXPECT_TRUE(silent_for(a, 200)) << "a held request must not reach the server";
  // A new connection still gets the server's greeting; what it sends is held too.
  int b = connect_to(proxy.port());
  ASSERT_GE(b, 0);
  EXPECT_EQ(read_n(b, 2), "hi");
  ASSERT_EQ(::send(b, "three", 5, MSG_NOSIGNAL), 5);
  ASSERT_TRUE(wait_held(proxy, 2));
  EXPECT_TRUE(silent_for(b, 100));
  // More from a while held waits behind the first chunk, in order.
  ASSERT_EQ(::send(a, "-more", 5, MSG_NOSIGNAL), 5);
  EXPECT_TRUE(silent_for(a, 100));

  proxy.hold(false);
  EXPECT_EQ(read_n(a, 8), "two-more");
  EXPECT_EQ(read_n(b, 5), "three");
  EXPECT_EQ(proxy.held(), 2u);  // counts stay until the next hold(true)

  // A large stream through a hold and a release arrives whole and in order.
  proxy.hold(true);
  EXPECT_EQ(proxy.held(), 0u);
  std::string data = random_bytes(std::size_t{1} << 20, 9);
  std::thread writer([&] { ::send(a, data.data(), data.size(), MSG_NOSIGNAL); });
  ASSERT_TRUE(wait_held(proxy, 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  proxy.hold(false);
  std::string back = read_n(a, data.size());
  writer.join();
  EXPECT_TRUE(back == data) << back.size() << " of " << data.size() << " bytes";
  auto c = proxy.counts();
  EXPECT_EQ(c.faults(), 0u);
  EXPECT_EQ(c.connections, 2u);
  ::close(a);
  ::close(b);
}

TEST(FaultProxy, StopsWhileHolding) {
  tiny_server server(echo);
  auto proxy = std::make_unique<fault_proxy>("127.0.0.1", server.port(), fault_options{});
  proxy->hold(true);
  int a = connect_to(proxy->port());
  ASSERT_EQ(::send(a, "x", 1, MSG_NOSIGNAL), 1);
  ASSERT_TRUE(wait_held(*proxy, 1));
  proxy->stop();  // must not wait for a release
  char c;
  EXPECT_LE(::recv(a, &c, 1, 0), 0);
  proxy.reset();
  ::close(a);
}

TEST(FaultProxy, StopsWithConnectionsOpen) {
  tiny_server server(echo);
  auto proxy = std::make_unique<fault_proxy>("127.0.0.1", server.port(), fault_options{.seed = 2});
  int a = connect_to(proxy->port()), b = connect_to(proxy->port());
  ASSERT_EQ(::send(a, "x", 1, MSG_NOSIGNAL), 1);
  char c;
  ASSERT_EQ(::recv(a, &c, 1, 0), 1);
  proxy->stop();  // must not hang on the open connections
  EXPECT_LE(::recv(b, &c, 1, 0), 0);
  proxy.reset();
  ::close(a);
  ::close(b);
}

}  // namespace
}  // namespace xgate::channel::testing
