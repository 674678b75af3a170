// The endpoint's side of TCP: one non-blocking socket driven by the endpoint's I/O thread,
// with an eventfd so that wake() and close() interrupt a waiting receive(). For tls:// the
// same socket carries OpenSSL directly (no Asio here: the loop is poll(2) on two fds).
#include <xgate/channel/transport.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <cerrno>
#include <system_error>

#include <boost/asio/ssl/error.hpp>

#include <xgate/base/error.hpp>
#include <xgate/base/text.hpp>
#include <xgate/base/url.hpp>
#include <xgate/tls/context.hpp>

namespace xgate::channel {

namespace {

[[noreturn]] void fail(std::errc code, const std::string& what) { throw std::system_error(std::make_error_code(code), what); }
[[noreturn]] void fail_errno(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

// "tcp://HOST:PORT" or "tls://HOST:PORT"; a bare "HOST:PORT" is taken as tcp://.
xgate::url parse(std::string_view text) {
  std::string with_scheme = text.find("://") != std::string_view::npos ? std::string(text) : "tcp://" + std::string(text);
  url_parse_result r = parse_url(with_scheme, {{"tcp", 0}, {"tls", 0}});
  if (!r)
    throw channel_error(channel_errc::protocol,
                        "hub URL \"" + xgate::printable(text) + "\": expected tcp://HOST:PORT or tls://HOST:PORT");
  return std::move(*r.value);
}

using xgate::tls::session_ptr;
using xgate::tls::ssl_ptr;

// What one read or write on the socket did: moved n > 0 bytes, reached the end (n == 0), or
// would block until the socket is ready for want (POLLIN or POLLOUT; n < 0).
struct io_step {
  ssize_t n;
  short want = 0;
};

class tcp_connection : public connection {
 public:
  // ssl: null for plain TCP; a TLS session whose handshake is done.
  tcp_connection(int fd, ssl_ptr ssl, std::string desc, std::size_t max_frame)
      : fd_(fd), ssl_(std::move(ssl)), reader_(max_frame), max_frame_(max_frame), desc_(std::move(desc)) {
    wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_ < 0) {
      ::close(fd_);
      fail_errno("eventfd");
    }
  }
  ~tcp_connection() override {
    ssl_.reset();
    ::close(fd_);
    ::close(wake_);
  }

  void send(std::vector<frame> frames) override {
    buf_.clear();
    for (auto& f : frames) append_framed(f, buf_, max_frame_);
    std::size_t done = 0;
    while (done < buf_.size()) {
      if (closed_) fail(std::errc::connection_reset, desc_ + ": closed");
      io_step step = write_some(buf_.data() + done, buf_.size() - done);
      if (step.n > 0) {
        done += static_cast<std::size_t>(step.n);
        continue;
      }
      // The hub reads while it writes, so a full buffer drains; bound the wait anyway.
      pollfd p[2] = {{fd_, step.want, 0}, {wake_, POLLIN, 0}};
      int r = ::poll(p, 1, 30000);
      if (r == 0) fail(std::errc::timed_out, desc_ + ": send blocked for 30 s");
      if (r < 0 && errno != EINTR) fail_errno(desc_ + ": poll");
    }
  }

  std::vector<frame> receive(std::chrono::milliseconds timeout) override {
    std::vector<frame> out;
    while (auto f = reader_.next()) out.push_back(std::move(*f));
    if (!out.empty()) return out;
    if (closed_) fail(std::errc::connection_reset, desc_ + ": closed");
    // TLS may hold decrypted bytes the socket no longer shows.
    bool ready = ssl_ && SSL_pending(ssl_.get()) > 0;
    if (!ready) {
      pollfd p[2] = {{fd_, want_, 0}, {wake_, POLLIN, 0}};
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
      ready = p[0].revents != 0;
    }
    if (ready) {
      char buf[65536];
      for (;;) {
        io_step step = read_some(buf, sizeof buf);
        if (step.n > 0) {
          reader_.feed(std::string_view(buf, static_cast<std::size_t>(step.n)));  // channel_error for garbage
          // A short plain read emptied the socket: no recv() just to hear EAGAIN. (TLS reads a
          // record at a time, so it reads on until OpenSSL wants more.)
          if (!ssl_ && static_cast<std::size_t>(step.n) < sizeof buf) break;
          continue;
        }
        if (step.n == 0) {
          // Frames that arrived before the end still count (a refusal, then close).
          while (auto f = reader_.next()) out.push_back(std::move(*f));
          if (!out.empty()) {
            closed_ = true;
            return out;
          }
          fail(std::errc::connection_reset, desc_ + ": the hub closed the connection");
        }
        want_ = step.want;
        break;
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
  io_step write_some(const char* data, std::size_t n) {
    if (!ssl_) {
      for (;;) {
        ssize_t w = ::send(fd_, data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) return {w};
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return {-1, POLLOUT};
        fail_errno(desc_ + ": send");
      }
    }
    std::size_t written = 0;
    if (SSL_write_ex(ssl_.get(), data, n, &written) == 1) return {static_cast<ssize_t>(written)};
    return tls_step("send", SSL_get_error(ssl_.get(), 0));
  }

  io_step read_some(char* data, std::size_t n) {
    if (!ssl_) {
      for (;;) {
        ssize_t r = ::recv(fd_, data, n, MSG_DONTWAIT);
        if (r >= 0) return {r};
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return {-1, POLLIN};
        fail_errno(desc_ + ": recv");
      }
    }
    std::size_t got = 0;
    if (SSL_read_ex(ssl_.get(), data, n, &got) == 1) return {static_cast<ssize_t>(got)};
    return tls_step("recv", SSL_get_error(ssl_.get(), 0));
  }

  io_step tls_step(const char* what, int error) {
    switch (error) {
      case SSL_ERROR_WANT_READ: return {-1, POLLIN};
      case SSL_ERROR_WANT_WRITE: return {-1, POLLOUT};
      case SSL_ERROR_ZERO_RETURN: return {0};  // the hub's close_notify
      case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (errno == 0 || errno == ECONNRESET || errno == EPIPE) return {0};  // the hub went away
        fail_errno(desc_ + ": " + what);
      default: {
        unsigned long e = ERR_get_error();
        ERR_clear_error();
        char reason[256];
        ERR_error_string_n(e, reason, sizeof reason);
        fail(std::errc::protocol_error, desc_ + ": " + what + ": TLS: " + reason);
      }
    }
  }

  int fd_, wake_ = -1;
  ssl_ptr ssl_;
  short want_ = POLLIN;  // what the last read waits for (TLS may need to write to read)
  frame_reader reader_;
  std::size_t max_frame_;
  std::string desc_, buf_;
  std::atomic<bool> closed_{false};
};

class tcp_transport : public transport {
 public:
  tcp_transport(std::string_view url, transport_options o) : addr_(parse(url)), opt_(o) {
    desc_ = addr_.origin();
    if (addr_.scheme == "tls") {
      try {
        tls_.emplace(xgate::tls::client_context(opt_.tls));
      } catch (const xgate::tls::tls_error& e) {
        throw xgate::error(net_errc::insecure, desc_ + ": " + e.what());
      }
      SSL_CTX_set_mode(tls_->native_handle(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
      // The hub closes without close_notify (frames delimit themselves): an end, not an attack.
      SSL_CTX_set_options(tls_->native_handle(), SSL_OP_IGNORE_UNEXPECTED_EOF);
    }
  }

  std::unique_ptr<connection> connect() override {
    auto deadline = std::chrono::steady_clock::now() + opt_.connect_timeout;
    int fd = connect_socket();
    ssl_ptr ssl;
    if (tls_) {
      try {
        ssl = handshake(fd, deadline);
      } catch (...) {
        ::close(fd);
        throw;
      }
    }
    return std::make_unique<tcp_connection>(fd, std::move(ssl), desc_, opt_.max_frame);
  }
  std::string description() const override { return desc_; }

 private:
  int connect_socket() {
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
        return fd;
      }
      last = std::error_code(errno, std::generic_category()).message();
      ::close(fd);
    }
    fail(std::errc::connection_refused, desc_ + ": cannot connect: " + last);
  }

  // The client's handshake on the connected socket, resuming the last connection's session
  // when there is one. A refused certificate or protocol is xgate::error(net_errc::insecure):
  // the endpoint gives up rather than retrying what fails again.
  ssl_ptr handshake(int fd, std::chrono::steady_clock::time_point deadline) {
    ssl_ptr ssl(SSL_new(tls_->native_handle()));
    if (!ssl || !xgate::tls::attach_socket(ssl.get(), fd)) fail(std::errc::not_enough_memory, desc_ + ": TLS: SSL_new");
    try {
      xgate::tls::expect_host(ssl.get(), addr_.host);
    } catch (const xgate::tls::tls_error& e) {
      throw xgate::error(net_errc::insecure, desc_ + ": " + e.what());
    }
    {
      std::lock_guard lock(session_mutex_);
      if (session_) SSL_set_session(ssl.get(), session_.get());
    }
    for (;;) {
      ERR_clear_error();
      errno = 0;
      int r = SSL_connect(ssl.get());
      if (r == 1) break;
      int error = SSL_get_error(ssl.get(), r);
      short want = error == SSL_ERROR_WANT_READ ? POLLIN : error == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
      if (want == 0) {
        boost::system::error_code ec =
            error == SSL_ERROR_SSL ? boost::system::error_code(static_cast<int>(ERR_get_error()), boost::asio::error::get_ssl_category())
                                   : boost::system::error_code(boost::asio::ssl::error::stream_truncated);
        ERR_clear_error();
        throw xgate::error(error == SSL_ERROR_SSL ? net_errc::insecure : net_errc::unreachable,
                           desc_ + ": TLS handshake: " + xgate::tls::handshake_failure(ssl.get(), ec));
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{fd, want, 0};
      int pr = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
      if (pr == 0) fail(std::errc::timed_out, desc_ + ": TLS handshake: timed out after " + std::to_string(opt_.connect_timeout.count()) + " ms");
      if (pr < 0 && errno != EINTR) fail_errno(desc_ + ": poll");
    }
    if (SSL_SESSION* s = SSL_get1_session(ssl.get())) {
      std::lock_guard lock(session_mutex_);
      session_.reset(s);
    }
    return ssl;
  }

  xgate::url addr_;
  transport_options opt_;
  std::string desc_;
  std::optional<boost::asio::ssl::context> tls_;  // tls://
  std::mutex session_mutex_;
  session_ptr session_;
};

}  // namespace

std::unique_ptr<transport> make_tcp_transport(std::string_view url, const transport_options& options) {
  return std::make_unique<tcp_transport>(url, options);
}

}  // namespace xgate::channel
