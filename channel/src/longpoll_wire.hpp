// The long-poll transport's wire, shared by the hub's side (longpoll_hub.cpp) and the
// endpoint's side (longpoll_endpoint.cpp): header names, a blocking socket with deadlines
// for synchronous Beast, and the numbered frame streams of a session (longpoll.hpp).
//
// Both sides use synchronous Beast on plain file descriptors with poll()-based deadlines
// (and OpenSSL on the same descriptor for https://),
// one thread per HTTP connection: a held request is simply a thread waiting on its
// session's condition variable, which keeps the hold/answer logic plain blocking code (the
// store's server makes the same choice for its long polls, server/src/http_server.cpp).
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http.hpp>

#include <xgate/channel/frame.hpp>
#include <xgate/tls/context.hpp>

namespace xgate::channel::longpoll_wire {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

inline constexpr const char* h_session = "X-Xgate-Session";
inline constexpr const char* h_seq = "X-Xgate-Seq";
inline constexpr const char* h_ack = "X-Xgate-Ack";
inline constexpr const char* h_seen = "X-Xgate-Seen";
inline constexpr const char* h_resend = "X-Xgate-Resend";
inline constexpr const char* h_wait = "X-Xgate-Wait";
inline constexpr const char* h_close = "X-Xgate-Close";
inline constexpr const char* h_closed = "X-Xgate-Closed";
inline constexpr const char* h_response = "X-Xgate-Response";
inline constexpr const char* h_error = "X-Xgate-Error";
inline constexpr const char* bundle_type = "application/x-xgate-bundle";

// A header's decimal value; 0 when absent. Throws channel_error(protocol) when it is not a number.
std::uint64_t header_number(const http::fields& f, const char* name);
// Whether a header is "1".
bool header_flag(const http::fields& f, const char* name);
// A header's value; "" when absent.
std::string_view header_text(const http::fields& f, const char* name);

using xgate::tls::session_ptr;
using xgate::tls::ssl_ptr;

// A socket with a deadline, as Beast's SyncReadStream / SyncWriteStream: poll() decides
// whether a read or write could wait past the deadline. With an SSL object (on the same
// descriptor, made non-blocking) the bytes go through TLS.
class fd_stream {
 public:
  explicit fd_stream(int fd, SSL* ssl = nullptr) : fd_(fd), ssl_(ssl) {}
  void deadline(clock_type::time_point t) { deadline_ = t; }

  // The TLS handshake (as the client when client), within the deadline. On failure ec is
  // an SSL error (tls::handshake_failure says what), eof or timed_out.
  void handshake(bool client, error_code& ec) {
    ec = {};
    for (;;) {
      ERR_clear_error();
      errno = 0;
      int r = client ? SSL_connect(ssl_) : SSL_accept(ssl_);
      if (r == 1) return;
      if (!tls_wait(SSL_get_error(ssl_, r), ec)) return;
    }
  }

  template <class Buffers>
  std::size_t read_some(const Buffers& buffers, error_code& ec) {
    ec = {};
    if (ssl_) {
      for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
        asio::mutable_buffer b = *it;
        if (b.size() == 0) continue;
        for (;;) {
          ERR_clear_error();
          errno = 0;
          std::size_t n = 0;
          if (SSL_read_ex(ssl_, b.data(), b.size(), &n) == 1) return n;
          if (!tls_wait(SSL_get_error(ssl_, 0), ec)) return 0;
        }
      }
      return 0;
    }
    iovec iov[16];
    int n = gather(buffers, iov);
    if (n == 0) return 0;
    for (;;) {
      if (!wait(POLLIN, ec)) return 0;
      ssize_t r = ::readv(fd_, iov, n);
      if (r > 0) return static_cast<std::size_t>(r);
      if (r == 0) {
        ec = asio::error::eof;
        return 0;
      }
      if (errno == EINTR || errno == EAGAIN) continue;
      ec = error_code(errno, boost::system::system_category());
      return 0;
    }
  }
  template <class Buffers>
  std::size_t read_some(const Buffers& buffers) {
    error_code ec;
    std::size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class Buffers>
  std::size_t write_some(const Buffers& buffers, error_code& ec) {
    ec = {};
    if (ssl_) {
      // One TLS record from as much of the sequence as fits (headers and body together).
      char chunk[16384];
      std::size_t n = 0;
      for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers) && n < sizeof chunk; ++it) {
        asio::const_buffer b = *it;
        std::size_t take = std::min(b.size(), sizeof chunk - n);
        std::memcpy(chunk + n, b.data(), take);
        n += take;
      }
      if (n == 0) return 0;
      for (;;) {
        ERR_clear_error();
        errno = 0;
        std::size_t written = 0;
        if (SSL_write_ex(ssl_, chunk, n, &written) == 1) return written;
        if (!tls_wait(SSL_get_error(ssl_, 0), ec)) return 0;
      }
    }
    iovec iov[16];
    int n = gather(buffers, iov);
    if (n == 0) return 0;
    msghdr m{};
    m.msg_iov = iov;
    m.msg_iovlen = static_cast<std::size_t>(n);
    for (;;) {
      if (!wait(POLLOUT, ec)) return 0;
      ssize_t r = ::sendmsg(fd_, &m, MSG_NOSIGNAL);
      if (r >= 0) return static_cast<std::size_t>(r);
      if (errno == EINTR || errno == EAGAIN) continue;
      ec = error_code(errno, boost::system::system_category());
      return 0;
    }
  }
  template <class Buffers>
  std::size_t write_some(const Buffers& buffers) {
    error_code ec;
    std::size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  template <class Buffers>
  static int gather(const Buffers& buffers, iovec (&iov)[16]) {
    int n = 0;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers) && n < 16; ++it) {
      auto b = *it;
      if (b.size() == 0) continue;
      iov[n].iov_base = const_cast<void*>(static_cast<const void*>(b.data()));
      iov[n].iov_len = b.size();
      ++n;
    }
    return n;
  }
  // After a TLS call that did not complete: waits for what it needs (true), or sets ec.
  bool tls_wait(int error, error_code& ec) {
    switch (error) {
      case SSL_ERROR_WANT_READ: return wait(POLLIN, ec);
      case SSL_ERROR_WANT_WRITE: return wait(POLLOUT, ec);
      case SSL_ERROR_ZERO_RETURN: ec = asio::error::eof; return false;
      case SSL_ERROR_SYSCALL:
        ec = errno ? error_code(errno, boost::system::system_category()) : error_code(asio::error::eof);
        return false;
      default:
        ec = error_code(static_cast<int>(ERR_get_error()), asio::error::get_ssl_category());
        ERR_clear_error();
        return false;
    }
  }

  bool wait(short events, error_code& ec) {
    pollfd p{fd_, events, 0};
    for (;;) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline_ - clock_type::now()).count();
      if (left <= 0) {
        ec = asio::error::timed_out;
        return false;
      }
      int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
      if (r > 0) return true;  // ready, or hung up: the call says which
      if (r < 0 && errno != EINTR) {
        ec = error_code(errno, boost::system::system_category());
        return false;
      }
    }
  }
  int fd_;
  SSL* ssl_;
  clock_type::time_point deadline_ = clock_type::time_point::max();
};

void set_nodelay(int fd);
inline void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// The sending half of a session stream: frames (already length-prefixed, so a resend
// costs no encoding) numbered from 1, kept until acknowledged; go-back-N like link_sender.
class frame_window {
 public:
  void push(const frame& f, std::size_t max_frame) {
    std::string bytes;
    append_framed(f, bytes, max_frame);
    bytes_pending_ += bytes.size();
    buf_.push_back(std::move(bytes));
  }
  bool has_pending() const noexcept { return sent_ < buf_.size(); }
  std::size_t pending_frames() const noexcept { return buf_.size() - sent_; }
  std::size_t pending_bytes() const noexcept { return bytes_pending_; }
  // The next frames to send as one bundle body; first is the seq of the first (0: none).
  std::string take(std::size_t max_frames, std::size_t max_bytes, std::uint64_t& first, std::uint64_t& last) {
    std::string body;
    first = has_pending() ? acked_ + sent_ + 1 : 0;
    std::size_t n = 0;
    while (sent_ < buf_.size() && n < max_frames && (n == 0 || body.size() + buf_[sent_].size() <= max_bytes)) {
      body += buf_[sent_];
      bytes_pending_ -= buf_[sent_].size();
      ++sent_;
      ++n;
    }
    last = n ? acked_ + sent_ : 0;
    return body;
  }
  // Returns false for an ack beyond the last frame pushed (a confused or hostile peer).
  bool on_ack(std::uint64_t seq) {
    if (seq > last()) return false;
    while (acked_ < seq) {
      if (sent_ == 0) bytes_pending_ -= buf_.front().size();  // acknowledged before we resent it
      buf_.pop_front();
      ++acked_;
      if (sent_ > 0) --sent_;
    }
    return true;
  }
  void rewind() noexcept {
    for (std::size_t i = 0; i < sent_; ++i) bytes_pending_ += buf_[i].size();
    sent_ = 0;
  }
  std::uint64_t acked() const noexcept { return acked_; }
  std::uint64_t last() const noexcept { return acked_ + buf_.size(); }
  std::uint64_t sent_upto() const noexcept { return acked_ + sent_; }

 private:
  std::deque<std::string> buf_;
  std::uint64_t acked_ = 0;
  std::size_t sent_ = 0;
  std::size_t bytes_pending_ = 0;  // bytes of buf_[sent_..]
};

// Takes the frames of a bundle that continue the stream (seq received + 1 onwards); drops
// duplicates; stops at a gap. Returns false when there was a gap.
bool accept_bundle(std::uint64_t first, std::vector<frame>& frames, std::uint64_t& received, std::vector<frame>& out);

}  // namespace xgate::channel::longpoll_wire
