// A connection's byte stream: plain TCP, or TLS over TCP, chosen at run time (a server with or
// without a certificate, a client given http:// or https://). One type for both keeps the
// servers and clients free of templates; it is a Beast AsyncStream, so http::async_read and
// async_write run over it unchanged, and deadlines live on the TCP layer (lowest()), where
// Beast's tcp_stream keeps them. Like Beast's streams, not thread-safe: use it on one strand.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace xgate::tls {

class stream {
 public:
  using executor_type = boost::beast::tcp_stream::executor_type;

  // Plain TCP when tls is null. The context must outlive the stream.
  stream(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context* tls) {
    if (tls)
      tls_.emplace(std::move(socket), *tls);
    else
      tcp_.emplace(std::move(socket));
  }
  // Not yet connected (a client's): connect lowest(), then handshake.
  stream(const executor_type& executor, boost::asio::ssl::context* tls) {
    if (tls)
      tls_.emplace(executor, *tls);
    else
      tcp_.emplace(executor);
  }

  bool is_tls() const noexcept { return tls_.has_value(); }
  boost::beast::tcp_stream& lowest() noexcept { return tls_ ? boost::beast::get_lowest_layer(*tls_) : *tcp_; }
  boost::beast::ssl_stream<boost::beast::tcp_stream>& tls() noexcept { return *tls_; }
  executor_type get_executor() noexcept { return lowest().get_executor(); }

  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    if (tls_)
      tls_->async_read_some(buffers, std::forward<Handler>(handler));
    else
      tcp_->async_read_some(buffers, std::forward<Handler>(handler));
  }

  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    if (tls_)
      tls_->async_write_some(buffers, std::forward<Handler>(handler));
    else
      tcp_->async_write_some(buffers, std::forward<Handler>(handler));
  }

  // Closes the socket at once. TLS gets no close_notify: every answer is delimited by its
  // Content-Length, so a client loses nothing, and a peer that stopped reading cannot hold
  // the close up.
  void close() noexcept {
    boost::system::error_code ec;
    lowest().socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    lowest().close();
  }

 private:
  std::optional<boost::beast::tcp_stream> tcp_;
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
};

}  // namespace xgate::tls
