// Test helpers: a small synchronous HTTP/1.1 client on one keep-alive connection, and a
// child process with its stdout piped (for the xgated binary and Chromium).
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace xgate::server::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

using response = http::response<http::string_body>;
using headers = std::vector<std::pair<std::string, std::string>>;

class http_client {
 public:
  // from: the local address to connect from (another loopback address, e.g. 127.0.0.2, is
  // another client address to the server); default: the system's choice.
  explicit http_client(unsigned short port, const std::string& from = {}) : socket_(ioc_) {
    if (!from.empty()) {
      socket_.open(tcp::v4());
      socket_.bind(tcp::endpoint(asio::ip::make_address(from), 0));
    }
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  // Sends one request on this client's connection and reads the response.
  response request(http::verb method, const std::string& target, const std::string& token = {}, std::string body = {},
                   const headers& extra = {}) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    for (auto& [k, v] : extra) req.set(k, v);
    bool has_body = !body.empty() || method == http::verb::put || method == http::verb::post;
    req.body() = std::move(body);
    if (has_body) req.prepare_payload();
    http::write(socket_, req);
    return read(method == http::verb::head);
  }
  response read(bool head = false) {
    http::response_parser<http::string_body> p;
    p.body_limit(std::uint64_t{1} << 30);
    p.skip(head);
    http::read(socket_, buffer_, p);
    return p.release();
  }
  // Raw bytes, for requests the typed writer would not send.
  void write_raw(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  // Whether the server closed the connection (EOF within the wait).
  bool closed_by_server(std::chrono::milliseconds wait = std::chrono::milliseconds(2000)) {
    pollfd p{socket_.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
    char c;
    boost::system::error_code ec;
    std::size_t n = socket_.read_some(asio::buffer(&c, 1), ec);
    return n == 0 && ec;
  }
  tcp::socket& socket() { return socket_; }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

inline std::string header(const response& r, const std::string& name) {
  auto it = r.find(name);
  return it == r.end() ? std::string("<absent>") : std::string(it->value());
}

// A child process: argv[0] is the program. stdout is piped to the parent, stderr goes to
// stderr_path (if given), stdin is /dev/null.
class child_process {
 public:
  child_process(const std::vector<std::string>& argv, const std::string& stderr_path = {}) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      int null = ::open("/dev/null", O_RDONLY);
      ::dup2(null, 0);
      if (!stderr_path.empty()) {
        int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ::dup2(err, 2);
      }
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
  }
  ~child_process() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      wait(std::chrono::milliseconds(5000));
    }
    if (out_ >= 0) ::close(out_);
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  // One line of stdout (without '\n'), std::nullopt on EOF or timeout.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto nl = pending_.find('\n');
      if (nl != std::string::npos) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        return line;
      }
      if (!fill(deadline)) return std::nullopt;
    }
  }
  // All of stdout until EOF (or the timeout).
  std::string read_all(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (fill(deadline)) {
    }
    return std::exchange(pending_, {});
  }
  void signal(int sig) { ::kill(pid_, sig); }
  // The exit status (or 128 + signal), std::nullopt if it did not exit in time.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    if (exited_) return status_;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int st = 0;
      pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return status_;
      }
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      ::usleep(10000);
    }
  }
  pid_t pid() const { return pid_; }

 private:
  bool fill(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buf[4096];
    ssize_t n = ::read(out_, buf, sizeof buf);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  pid_t pid_ = -1;
  int out_ = -1;
  std::string pending_;
  bool exited_ = false;
  int status_ = -1;
};

// `xgated adduser NAME --data DATA`, run from the xgated binary at xgated: the login token
// it prints; "" and a test failure when it fails.
inline std::string xgated_adduser(const std::string& xgated, const std::string& data, const std::string& name) {
  child_process add({xgated, "adduser", name, "--data", data});
  std::string out = add.read_all(std::chrono::seconds(20));
  if (add.wait(std::chrono::seconds(20)) != 0 || !out.ends_with("\n")) {
    ADD_FAILURE() << "xgated adduser " << name << " --data " << data << " failed: " << out;
    return "";
  }
  return out.substr(0, out.find('\n'));
}

}  // namespace xgate::server::testing
