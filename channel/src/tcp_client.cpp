// The endpoint's side of TCP: one blocking socket driven by the endpoint's I/O thread,
// with an eventfd so that wake() and close() interrupt a waiting receive().
#include <xgate/channel/transport.hpp>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <system_error>

#include <xgate/base/text.hpp>
#include <xgate/base/url.hpp>

namespace xgate::channel {

namespace {

[[noreturn]] void fail(std::errc code, const std::string& what) { throw std::system_error(std::make_error_code(code), what); }
[[noreturn]] void fail_errno(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

// "tcp://HOST:PORT"; a bare "HOST:PORT" is taken as such too.
xgate::url parse(std::string_view text) {
  std::string with_scheme = text.starts_with("tcp://") ? std::string(text) : "tcp://" + std::string(text);
  url_parse_result r = parse_url(with_scheme, {{"tcp", 0}});
  if (!r) throw channel_error(channel_errc::protocol, "hub URL \"" + xgate::printable(text) + "\": expected tcp://HOST:PORT");
  return std::move(*r.value);
}

class tcp_connection : public connection {
 public:
  tcp_connection(int fd, std::string desc, std::size_t max_frame) : fd_(fd), reader_(max_frame), max_frame_(max_frame), desc_(std::move(desc)) {
    wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_ < 0) {
      ::close(fd_);
      fail_errno("eventfd");
    }
  }
  ~tcp_connection() override {
    ::close(fd_);
    ::close(wake_);
  }

  void send(std::vector<frame> frames) override {
    buf_.clear();
    for (auto& f : frames) append_framed(f, buf_, max_frame_);
    std::size_t done = 0;
    while (done < buf_.size()) {
      if (closed_) fail(std::errc::connection_reset, desc_ + ": closed");
      ssize_t n = ::send(fd_, buf_.data() + done, buf_.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        done += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        // The hub reads while it writes, so a full buffer drains; bound the wait anyway.
        pollfd p[2] = {{fd_, POLLOUT, 0}, {wake_, POLLIN, 0}};
        int r = ::poll(p, 1, 30000);
        if (r == 0) fail(std::errc::timed_out, desc_ + ": send blocked for 30 s");
        if (r < 0 && errno != EINTR) fail_errno(desc_ + ": poll");
        continue;
      }
      fail_errno(desc_ + ": send");
    }
  }

  std::vector<frame> receive(std::chrono::milliseconds timeout) override {
    std::vector<frame> out;
    while (auto f = reader_.next()) out.push_back(std::move(*f));
    if (!out.empty()) return out;
    if (closed_) fail(std::errc::connection_reset, desc_ + ": closed");
    pollfd p[2] = {{fd_, POLLIN, 0}, {wake_, POLLIN, 0}};
    int r = ::poll(p, 2, static_cast<int>(std::max<std::int64_t>(0, timeout.count())));
    if (r < 0) {
      if (errno == EINTR) return out;
      fail_errno(desc_ + ": poll");
    }
    if (p[1].revents) {
      std::uint64_t v;
      while (::read(wake_, &v, sizeof v) > 0) {
      }
      if (closed_) fail(std::errc::connection_reset, desc_ + ": closed");
    }
    if (p[0].revents) {
      char buf[65536];
      for (;;) {
        ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
          reader_.feed(std::string_view(buf, static_cast<std::size_t>(n)));  // channel_error for garbage
          if (static_cast<std::size_t>(n) < sizeof buf) break;
          continue;
        }
        if (n == 0) {
          // Frames that arrived before the end still count (a refusal, then close).
          while (auto f = reader_.next()) out.push_back(std::move(*f));
          if (!out.empty()) {
            closed_ = true;
            return out;
          }
          fail(std::errc::connection_reset, desc_ + ": the hub closed the connection");
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        fail_errno(desc_ + ": recv");
      }
    }
    while (auto f = reader_.next()) out.push_back(std::move(*f));
    return out;
  }

  void wake() override {
    std::uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
  }
  void close() noexcept override {
    closed_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    wake();
  }
  std::string description() const override { return desc_; }

 private:
  int fd_, wake_ = -1;
  frame_reader reader_;
  std::size_t max_frame_;
  std::string desc_, buf_;
  std::atomic<bool> closed_{false};
};

class tcp_transport : public transport {
 public:
  tcp_transport(std::string_view url, transport_options o) : addr_(parse(url)), opt_(o) {
    desc_ = addr_.origin();
  }

  std::unique_ptr<connection> connect() override {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(addr_.host.c_str(), std::to_string(addr_.port).c_str(), &hints, &res);
    if (rc != 0) fail(std::errc::host_unreachable, desc_ + ": " + ::gai_strerror(rc));
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, &::freeaddrinfo);
    std::string last = "no address";
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
      int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
      if (fd < 0) continue;
      int r = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
      if (r != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int pr = ::poll(&p, 1, static_cast<int>(opt_.connect_timeout.count()));
        if (pr == 1) {
          int err = 0;
          socklen_t len = sizeof err;
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
          r = err == 0 ? 0 : -1;
          errno = err;
        } else {
          if (pr == 0) errno = ETIMEDOUT;
          r = -1;
        }
      }
      if (r == 0) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return std::make_unique<tcp_connection>(fd, desc_, opt_.max_frame);
      }
      last = std::error_code(errno, std::generic_category()).message();
      ::close(fd);
    }
    fail(std::errc::connection_refused, desc_ + ": cannot connect: " + last);
  }
  std::string description() const override { return desc_; }

 private:
  xgate::url addr_;
  transport_options opt_;
  std::string desc_;
};

}  // namespace

std::unique_ptr<transport> make_tcp_transport(std::string_view url, const transport_options& options) {
  return std::make_unique<tcp_transport>(url, options);
}

}  // namespace xgate::channel
