// Shared helpers for the channel tests.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <string>

#include <xgate/channel.hpp>
#include <xgate/channel/detail/auth.hpp>  // the handshake, spoken by hand in the hub tests
#include <xgate/channel/detail/link.hpp>  // the link streams and inbox under test

namespace xgate::channel::testing {

// The channel_error f throws (a test failure when it throws none or another).
template <class F>
channel_error catch_channel_error(F&& f) {
  try {
    f();
  } catch (const channel_error& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected a channel_error, got: " << e.what();
    return channel_error(channel_errc::protocol, "(none)");
  }
  ADD_FAILURE() << "expected a channel_error, nothing thrown";
  return channel_error(channel_errc::protocol, "(none)");
}

// A stamped envelope from `from` to `to` with a plain body.
inline envelope sample_envelope(std::string from = "node/a", std::string to = "node/b", std::uint64_t seq = 1,
                                std::string body = "<x/>") {
  envelope e;
  e.from = std::move(from);
  e.to = std::move(to);
  e.seq = seq;
  e.id = message_id(e.from, "0123456789abcdef", seq);
  e.kind = "test";
  e.time = std::chrono::system_clock::time_point(std::chrono::nanoseconds(1'700'000'000'123'456'789));
  e.body = std::move(body);
  return e;
}

// A port free on 127.0.0.1 right now, for a third-party server that cannot be told to pick
// one itself (port 0). Another process may take it before the server binds: a test that
// fails to start on it says so.
inline unsigned short free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Waits up to `timeout` until 127.0.0.1:port accepts connections; false when the child
// `pid` exited first (it is reaped) or the time ran out.
inline bool wait_child_listening(pid_t pid, unsigned short port, std::chrono::milliseconds timeout) {
  for (auto deadline = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < deadline;) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return false;
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// A raw TCP client of a hub on 127.0.0.1, for bytes and frame sequences an endpoint
// would never send. Reads and writes give up after 5 s.
class raw_client {
 public:
  explicit raw_client(unsigned short port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) ADD_FAILURE() << "connect";
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  ~raw_client() { ::close(fd_); }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;
  // Whatever part of bytes the hub takes before it closes (or 5 s pass).
  void write(const std::string& bytes) { (void)!::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL); }
  void send(const frame& f) { write(framed(f)); }
  // Frames until the hub closes (or 5 s pass).
  std::vector<frame> read_until_closed() {
    frame_reader r;
    std::vector<frame> out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      r.feed(std::string_view(buf, static_cast<std::size_t>(n)));
      while (auto f = r.next()) out.push_back(std::move(*f));
    }
    return out;
  }
  std::optional<frame> read_one() {
    char buf[4096];
    for (;;) {
      if (auto f = reader_.next()) return f;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return std::nullopt;
      reader_.feed(std::string_view(buf, static_cast<std::size_t>(n)));
    }
  }

 private:
  int fd_ = -1;
  frame_reader reader_;
};

// What one endpoint received, in order (an on_message callback appends).
struct collector {
  std::mutex m;
  std::condition_variable cv;
  std::vector<envelope> got;
  void add(envelope e) {
    std::lock_guard lock(m);
    got.push_back(std::move(e));
    cv.notify_all();
  }
  bool wait_for_count(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, timeout, [&] { return got.size() >= n; });
  }
  std::size_t size() {
    std::lock_guard lock(m);
    return got.size();
  }
};

// Waits (bounded) until pred holds, looking every 5 ms.
template <class P>
bool eventually(P pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  for (auto deadline = std::chrono::steady_clock::now() + timeout; !pred();) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace xgate::channel::testing
