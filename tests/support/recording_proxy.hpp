// A TCP proxy that records every byte it forwards, both ways: the capture a test inspects
// for what travels in the clear. Listens on 127.0.0.1 (a free port); one thread accepts, two
// per connection pump (blocking I/O). stop() (or the destructor) ends them all.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <list>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace xgate::testing {

class recording_proxy {
 public:
  explicit recording_proxy(unsigned short target_port) : target_(target_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listener_, 64) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("recording_proxy: cannot listen");
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~recording_proxy() { stop(); }
  recording_proxy(const recording_proxy&) = delete;
  recording_proxy& operator=(const recording_proxy&) = delete;

  unsigned short port() const noexcept { return port_; }
  // Every byte forwarded so far, in either direction.
  std::string captured() const {
    std::lock_guard lock(mutex_);
    return captured_;
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      stopped_ = true;
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    ::shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    for (auto& t : pumps_) t.join();
    for (int fd : fds_) ::close(fd);
    ::close(listener_);
  }

 private:
  void accept_loop() {
    for (;;) {
      int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return;
      int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(target_);
      if (::connect(upstream, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(client);
        ::close(upstream);
        continue;
      }
      std::lock_guard lock(mutex_);
      if (stopped_) {
        ::close(client);
        ::close(upstream);
        return;
      }
      fds_.push_back(client);
      fds_.push_back(upstream);
      pumps_.emplace_back([this, client, upstream] { pump(client, upstream); });
      pumps_.emplace_back([this, client, upstream] { pump(upstream, client); });
    }
  }

  void pump(int from, int to) {
    char buf[16384];
    for (;;) {
      ssize_t n = ::recv(from, buf, sizeof buf, 0);
      if (n <= 0) break;
      {
        std::lock_guard lock(mutex_);
        captured_.append(buf, static_cast<std::size_t>(n));
      }
      if (::send(to, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
    }
    ::shutdown(to, SHUT_WR);
  }

  unsigned short target_, port_ = 0;
  int listener_ = -1;
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::string captured_;
  std::vector<int> fds_;
  std::list<std::thread> pumps_;
  bool stopped_ = false;
};

}  // namespace xgate::testing
