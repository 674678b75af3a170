// The transport: a listener and one thread per connection running synchronous Beast.
//
// Why threads and not async: every store call blocks (LMDB transactions, and store::watch
// for a long poll up to 60 s). With async Beast each of those would have to be offloaded to
// a pool anyway, and a pool of N threads starves other requests once N long polls wait. A
// thread per connection keeps handlers plain blocking code, a waiting watch holds only its
// own connection's thread, and max_connections bounds the threads (past it the listener
// pauses; the kernel backlog holds new connections). Reads wait in poll() with the idle
// timeout, so a silent client cannot hold a thread forever; stop() shuts every socket down,
// which wakes those polls, and requests stop on the store's watch through a stop_token.
#include <xgate/server/http_server.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "routes.hpp"

namespace xgate::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

// A socket whose reads and writes give up after a timeout, for Beast's synchronous
// algorithms (SyncReadStream / SyncWriteStream). The socket stays in blocking mode; poll()
// decides first whether the call would wait longer than the timeout.
class timed_socket {
 public:
  using executor_type = tcp::socket::executor_type;
  timed_socket(tcp::socket& s, std::chrono::milliseconds timeout) : s_(s), timeout_(static_cast<int>(timeout.count())) {}
  executor_type get_executor() { return s_.get_executor(); }

  template <class Buffers>
  std::size_t read_some(const Buffers& b, error_code& ec) {
    if (!wait(POLLIN, ec)) return 0;
    return s_.read_some(b, ec);
  }
  template <class Buffers>
  std::size_t read_some(const Buffers& b) {
    error_code ec;
    std::size_t n = read_some(b, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class Buffers>
  std::size_t write_some(const Buffers& b, error_code& ec) {
    if (!wait(POLLOUT, ec)) return 0;
    return s_.write_some(b, ec);
  }
  template <class Buffers>
  std::size_t write_some(const Buffers& b) {
    error_code ec;
    std::size_t n = write_some(b, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  bool wait(short events, error_code& ec) {
    pollfd p{s_.native_handle(), events, 0};
    for (;;) {
      int r = ::poll(&p, 1, timeout_);
      if (r > 0) return true;  // ready, or hung up / error: the read or write reports which
      if (r == 0) {
        ec = asio::error::timed_out;
        return false;
      }
      if (errno != EINTR) {
        ec = error_code(errno, boost::system::system_category());
        return false;
      }
    }
  }
  tcp::socket& s_;
  int timeout_;
};

std::string peer_of(const tcp::socket& s) {
  error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "-";
  return ep.address().is_v6() ? "[" + ep.address().to_string() + "]:" + std::to_string(ep.port())
                              : ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

struct http_server::impl {
  store::store& store;
  server_options options;
  asio::io_context ioc;  // runs only the accepts; connection threads post re-arms to it
  tcp::acceptor acceptor{ioc};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread accept_thread;
  std::stop_source stop_source;
  std::atomic<unsigned short> bound_port{0};
  bool started = false;

  std::mutex mutex;  // guards what follows
  std::condition_variable idle;
  std::unordered_map<std::uint64_t, int> open;  // connection id -> socket fd, for stop()
  std::uint64_t next_id = 0;
  bool paused = false;  // at max_connections: no accept pending
  bool stopping = false;

  std::mutex log_mutex;

  impl(store::store& s, server_options o) : store(s), options(std::move(o)) {}

  void arm() {
    acceptor.async_accept([this](error_code ec, tcp::socket socket) { on_accept(ec, std::move(socket)); });
  }

  void on_accept(error_code ec, tcp::socket socket) {
    std::unique_lock lock(mutex);
    if (stopping || !acceptor.is_open()) return;
    if (ec) {
      // EMFILE and the like: try again shortly rather than spin or give up for good.
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      arm();
      return;
    }
    std::uint64_t id = next_id++;
    open.emplace(id, socket.native_handle());
    try {
      auto s = std::make_unique<tcp::socket>(std::move(socket));
      std::thread([this, id, s = std::move(s)]() mutable { connection(id, s); }).detach();
    } catch (const std::system_error&) {
      open.erase(id);  // no thread for it: the socket closes as it goes out of scope
    }
    if (open.size() < options.max_connections) {
      lock.unlock();
      arm();
    } else {
      paused = true;
    }
  }

  void connection(std::uint64_t id, std::unique_ptr<tcp::socket>& socket) {
    serve(*socket);
    error_code ec;
    socket->shutdown(tcp::socket::shutdown_both, ec);
    std::lock_guard lock(mutex);
    // Closed under the lock, so that stop() never shuts down a reused fd number, and
    // destroyed before stop() may return and take the io_context with it.
    socket->close(ec);
    socket.reset();
    open.erase(id);
    if (paused && !stopping && open.size() < options.max_connections) {
      paused = false;
      asio::post(ioc, [this] { arm(); });
    }
    idle.notify_all();
  }

  void log(const std::string& peer, const detail::request& req, const detail::response& res, const std::string& principal,
           std::chrono::steady_clock::time_point t0) {
    if (!options.log) return;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
    std::string_view target = req.target();
    // The login route never gets a token in its query, but if a client put one there it
    // must not reach the log.
    if (detail::split_target(target).path == "/login") target = detail::split_target(target).path;
    std::string line = detail::iso_time(std::chrono::system_clock::now()) + " " + peer + " " +
                       detail::log_safe(req.method_string()) + " " + detail::log_safe(target) + " " +
                       std::to_string(res.result_int()) + " " + (principal.empty() ? "-" : detail::log_safe(principal)) +
                       " " + std::to_string(res.body().size()) + " " + std::to_string(us) + "us\n";
    std::lock_guard lock(log_mutex);
    *options.log << line << std::flush;
  }

  // After a refused body: let the client finish sending (bounded) so that it reads our
  // response instead of a connection reset, without keeping any of it.
  void drain(tcp::socket& socket) {
    error_code ec;
    socket.shutdown(tcp::socket::shutdown_send, ec);
    timed_socket ts(socket, std::chrono::milliseconds(1000));
    char sink[65536];
    std::size_t total = 0;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (total < (std::size_t{256} << 20) && std::chrono::steady_clock::now() < until) {
      std::size_t n = ts.read_some(asio::buffer(sink), ec);
      if (ec) break;
      total += n;
    }
  }

  void serve(tcp::socket& socket) {
    std::string peer = peer_of(socket);
    timed_socket stream(socket, options.idle_timeout);
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(options.max_document);
      parser.header_limit(64 * 1024);
      error_code ec;
      http::read_header(stream, buffer, parser, ec);
      auto t0 = std::chrono::steady_clock::now();
      if (ec == http::error::body_limit) {
        refuse_body(stream, socket, parser.get(), peer, t0);
        return;
      }
      if (ec) {
        // A clean close between requests, a timeout, or a stop: just go. Garbage: say so.
        if (ec != http::error::end_of_stream && ec != asio::error::timed_out && ec != asio::error::eof &&
            ec != asio::error::connection_reset && ec != asio::error::bad_descriptor && !is_stopping() &&
            buffer.size() > 0) {
          detail::request bad;
          bad.version(11);
          bad.keep_alive(false);
          auto res = detail::error_response(bad, http::status::bad_request, "bad_request", "malformed HTTP request: " + ec.message());
          res.prepare_payload();
          http::write(stream, res, ec);
        }
        return;
      }
      auto expect = parser.get().find(http::field::expect);
      if (expect != parser.get().end() && beast::iequals(expect->value(), "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, parser.get().version()};
        http::write(stream, cont, ec);
        if (ec) return;
      }
      http::read(stream, buffer, parser, ec);
      if (ec == http::error::body_limit) {
        refuse_body(stream, socket, parser.get(), peer, t0);
        return;
      }
      if (ec) return;  // the client went away or stalled mid-body
      detail::request req = parser.release();
      int fd = socket.native_handle();
      detail::exchange x{store, options, stop_source.get_token(), [fd] {
                           pollfd p{fd, POLLRDHUP, 0};
                           return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
                         },
                         {}};
      detail::response res = detail::handle(x, req);
      bool keep = req.keep_alive() && res.keep_alive() && !is_stopping();
      res.keep_alive(keep);
      if (req.method() == http::verb::head) {
        // Headers as GET would send them (Content-Length included), no body.
        if (!res.has_content_length()) res.prepare_payload();
        http::response<http::empty_body> head(std::move(res.base()));
        http::response_serializer<http::empty_body> sr(head);
        http::write_header(stream, sr, ec);
        res.body().clear();
        res.base() = std::move(head.base());
      } else {
        res.prepare_payload();
        http::write(stream, res, ec);
      }
      log(peer, req, res, x.principal, t0);
      if (ec || !keep) return;
    }
  }

  template <class Stream>
  void refuse_body(Stream& stream, tcp::socket& socket, const detail::request& partial, const std::string& peer,
                   std::chrono::steady_clock::time_point t0) {
    detail::request req;
    req.method_string(partial.method_string());
    req.target(partial.target());
    req.version(partial.version());
    auto res = detail::error_response(req, http::status::payload_too_large, "too_large",
                                      "request body larger than the server's limit of " +
                                          std::to_string(options.max_document) + " bytes");
    res.keep_alive(false);
    res.prepare_payload();
    error_code ec;
    http::write(stream, res, ec);
    log(peer, req, res, "", t0);
    if (!ec) drain(socket);
  }

  bool is_stopping() {
    std::lock_guard lock(mutex);
    return stopping;
  }
};

http_server::http_server(store::store& s, server_options options) : impl_(std::make_unique<impl>(s, std::move(options))) {}

http_server::~http_server() { stop(); }

void http_server::start() {
  impl& m = *impl_;
  if (m.started) throw std::logic_error("xgate::server::http_server::start called twice");
  m.started = true;
  error_code ec;
  auto address = asio::ip::make_address(m.options.address, ec);
  if (ec) throw std::system_error(ec.value(), std::generic_category(), "bad listen address \"" + m.options.address + "\"");
  tcp::endpoint ep(address, m.options.port);
  m.acceptor.open(ep.protocol());
  m.acceptor.set_option(asio::socket_base::reuse_address(true));
  m.acceptor.bind(ep, ec);
  if (ec)
    throw std::system_error(ec.value(), std::generic_category(),
                            "cannot listen on " + m.options.address + ":" + std::to_string(m.options.port));
  m.acceptor.listen(asio::socket_base::max_listen_connections);
  m.bound_port = m.acceptor.local_endpoint().port();
  m.work.emplace(m.ioc.get_executor());
  m.arm();
  m.accept_thread = std::thread([&m] { m.ioc.run(); });
}

unsigned short http_server::port() const noexcept { return impl_->bound_port; }

std::string http_server::url() const {
  const std::string& a = impl_->options.address;
  return "http://" + (a.find(':') != std::string::npos ? "[" + a + "]" : a) + ":" + std::to_string(port());
}

void http_server::stop() {
  impl& m = *impl_;
  {
    std::lock_guard lock(m.mutex);
    if (m.stopping) return;
    m.stopping = true;
    // Wakes every connection thread out of poll() or a blocked read; the threads close
    // their own sockets.
    for (auto& [id, fd] : m.open) ::shutdown(fd, SHUT_RDWR);
  }
  m.stop_source.request_stop();
  if (m.accept_thread.joinable()) {
    m.work.reset();
    m.ioc.stop();
    m.accept_thread.join();
  }
  error_code ec;
  m.acceptor.close(ec);
  std::unique_lock lock(m.mutex);
  m.idle.wait(lock, [&m] { return m.open.empty(); });
}

}  // namespace xgate::server
