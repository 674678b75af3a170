// A minimal HTTP server on 127.0.0.1 for the client's own tests: it answers each request
// with what a handler returns, and can close every connection after one response (what a
// server does to an idle keep-alive connection). Plain blocking sockets, one thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace xgate::client::testing {

struct fake_request {
  std::string method, target, headers, body;
  std::string header(const std::string& name) const {
    std::string lower_h, lower_n;
    for (char c : headers) lower_h += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (char c : name) lower_n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto at = lower_h.find("\r\n" + lower_n + ":");
    if (at == std::string::npos) return {};
    auto start = headers.find_first_not_of(' ', at + 2 + name.size() + 1);
    return headers.substr(start, headers.find("\r\n", start) - start);
  }
};

struct fake_response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

class fake_server {
 public:
  using handler = std::function<fake_response(const fake_request&)>;

  explicit fake_server(handler h, bool close_after_each = false) : handler_(std::move(h)), close_after_(close_after_each) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listener_, 16) != 0) throw std::runtime_error("fake_server: bind");
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~fake_server() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_; }
  std::vector<fake_request> requests() const {
    std::lock_guard l(mutex_);
    return requests_;
  }

 private:
  // Waits for fd to be readable, giving up when the server stops.
  bool wait(int fd) {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      int n = ::poll(&p, 1, 20);
      if (n > 0) return true;
    }
    return false;
  }

  void run() {
    while (wait(listener_)) {
      int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) continue;
      ++connections_;
      serve(fd);
      ::close(fd);
    }
  }

  void serve(int fd) {
    std::string buf;
    for (;;) {
      std::size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        if (!wait(fd)) return;
        char chunk[4096];
        ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return;
        buf.append(chunk, static_cast<std::size_t>(n));
      }
      fake_request req;
      std::string head = buf.substr(0, end + 2);
      auto sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
      req.method = head.substr(0, sp1);
      req.target = head.substr(sp1 + 1, sp2 - sp1 - 1);
      req.headers = head.substr(head.find("\r\n"));
      std::string cl = req.header("Content-Length");
      std::size_t length = cl.empty() ? 0 : std::stoul(cl);
      while (buf.size() < end + 4 + length) {
        if (!wait(fd)) return;
        char chunk[4096];
        ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return;
        buf.append(chunk, static_cast<std::size_t>(n));
      }
      req.body = buf.substr(end + 4, length);
      buf.erase(0, end + 4 + length);
      {
        std::lock_guard l(mutex_);
        requests_.push_back(req);
      }
      fake_response res = handler_(req);
      std::string out = "HTTP/1.1 " + std::to_string(res.status) + " X\r\n";
      for (auto& [k, v] : res.headers) out += k + ": " + v + "\r\n";
      out += "Content-Length: " + std::to_string(res.body.size()) + "\r\n\r\n" + res.body;
      if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) return;
      if (close_after_) return;  // closed without "Connection: close", like an idle timeout
    }
  }

  handler handler_;
  bool close_after_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mutex_;
  std::vector<fake_request> requests_;
  std::thread thread_;
};

}  // namespace xgate::client::testing
