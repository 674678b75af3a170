// The transport: a listener, a fixed pool of I/O threads running asynchronous Beast, and a
// fixed pool for store calls.
//
// Why this shape: every store call blocks (LMDB transactions), so handlers run on their own
// pool and never on an I/O thread, which only moves bytes and keeps deadlines; a slow or
// silent client then holds a socket and a timer, never a thread. A long poll holds an entry
// in watches.hpp, completed by one notifier thread. The limits on open connections (in total
// and per client address) are checked at accept: one over is answered 503 and closed, so a
// flood from one address cannot take every slot.
#include <xgate/server/http_server.hpp>

#include <algorithm>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "connection.hpp"

namespace xgate::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {
// At most this many connections are being answered 503 at once; more are closed unanswered,
// so that refusing costs bounded work too.
constexpr std::size_t max_refusing = 1024;

std::size_t default_threads() { return std::max<std::size_t>(2, std::thread::hardware_concurrency()); }
}  // namespace

struct http_server::impl {
  detail::core core;
  tcp::acceptor acceptor;
  asio::steady_timer retry;  // after a failed accept (EMFILE): try again shortly, not in a spin
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> io_threads;
  std::atomic<unsigned short> bound_port{0};
  bool started = false;

  impl(store::store& s, server_options o)
      : core(s, std::move(o)), acceptor(asio::make_strand(core.ioc)), retry(acceptor.get_executor()) {}

  void accept() {
    acceptor.async_accept(asio::make_strand(core.ioc), [this](error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) {
        retry.expires_after(std::chrono::milliseconds(10));
        retry.async_wait([this](error_code e) {
          if (!e && acceptor.is_open()) accept();
        });
        return;
      }
      try {
        admit(std::move(socket));
      } catch (const std::exception&) {
        // No memory for this one: it closes as its socket goes; the next may fare better.
      }
      accept();
    });
  }

  // Serves the connection, or refuses it when it is over a limit.
  void admit(tcp::socket socket) {
    error_code ec;
    auto ep = socket.remote_endpoint(ec);
    if (ec) return;  // gone already
    std::string address = ep.address().to_string();
    const server_options& o = core.options;
    std::unique_lock lock(core.mutex);
    if (core.stopping) return;
    std::string refused;
    auto from = core.per_address.find(address);
    if (core.open >= o.max_connections)
      refused = "too many connections to this server (limit " + std::to_string(o.max_connections) + "); try again later";
    else if (from != core.per_address.end() && from->second >= o.max_connections_per_address)
      refused = "too many connections from " + address + " (limit " + std::to_string(o.max_connections_per_address) +
                " per address); try again later";
    if (!refused.empty()) {
      if (core.refusing >= max_refusing) return;
      ++core.refusing;
      std::shared_ptr<detail::refusal> r;
      try {
        r = std::make_shared<detail::refusal>(core, std::move(socket), std::move(refused));
      } catch (...) {
        --core.refusing;
        throw;
      }
      // Unlocked first: should r be done before this returns, its destructor takes the lock.
      lock.unlock();
      asio::post(r->executor(), [r] { r->start(); });
      return;
    }
    ++core.open;
    ++core.per_address[address];
    std::shared_ptr<detail::connection> c;
    try {
      c = std::make_shared<detail::connection>(core, std::move(socket), address);
    } catch (...) {
      --core.open;
      if (--core.per_address[address] == 0) core.per_address.erase(address);
      throw;
    }
    core.live.emplace(c.get(), c);
    // Unlocked first: a connection served and closed before this returns is destroyed with
    // c here, and its destructor takes the lock.
    lock.unlock();
    asio::post(c->executor(), [c] { c->start(); });
  }
};

http_server::http_server(store::store& s, server_options options) : impl_(std::make_unique<impl>(s, std::move(options))) {}

http_server::~http_server() { stop(); }

void http_server::start() {
  impl& m = *impl_;
  if (m.started) throw std::logic_error("xgate::server::http_server::start called twice");
  m.started = true;
  const server_options& o = m.core.options;
  if (!o.tls.certificate.empty()) m.core.tls.emplace(o.tls);
  error_code ec;
  auto address = asio::ip::make_address(o.address, ec);
  if (ec) throw std::system_error(ec.value(), std::generic_category(), "bad listen address \"" + o.address + "\"");
  tcp::endpoint ep(address, o.port);
  m.acceptor.open(ep.protocol());
  m.acceptor.set_option(asio::socket_base::reuse_address(true));
  m.acceptor.bind(ep, ec);
  if (ec) throw std::system_error(ec.value(), std::generic_category(), "cannot listen on " + o.address + ":" + std::to_string(o.port));
  m.acceptor.listen(asio::socket_base::max_listen_connections);
  m.bound_port = m.acceptor.local_endpoint().port();
  std::size_t store_threads = o.store_threads ? o.store_threads : 32;
  m.core.store_pool.emplace(store_threads);
  m.core.queries.emplace(o.max_queries ? o.max_queries
                                       : std::max<std::size_t>(1, std::min(default_threads(), store_threads - 1)));
  if (o.max_failed_logins) m.core.logins.emplace(o.max_failed_logins, o.failed_login_window);
  m.core.waits.emplace(m.core.store);
  m.work.emplace(m.core.ioc.get_executor());
  m.accept();
  std::size_t threads = o.threads ? o.threads : default_threads();
  for (std::size_t i = 0; i < threads; ++i)
    m.io_threads.emplace_back([&m] {
      for (;;) {
        try {
          m.core.ioc.run();
          return;
        } catch (const std::exception&) {
          // A handler ran out of memory: its connection is lost, the thread goes on.
        }
      }
    });
}

unsigned short http_server::port() const noexcept { return impl_->bound_port; }

void http_server::reload_tls() {
  if (impl_->core.tls) impl_->core.tls->reload();
}

std::string http_server::url() const {
  const std::string& a = impl_->core.options.address;
  return std::string(impl_->core.options.tls.certificate.empty() ? "http://" : "https://") + (a.find(':') != std::string::npos ? "[" + a + "]" : a) + ":" + std::to_string(port());
}

void http_server::stop() {
  impl& m = *impl_;
  std::vector<std::weak_ptr<detail::connection>> open;
  {
    std::lock_guard lock(m.core.mutex);
    if (m.core.stopping) return;
    m.core.stopping = true;
    for (auto& [key, c] : m.core.live) open.push_back(c);
  }
  if (!m.started) return;
  m.core.shutdown.request_stop();
  asio::post(m.acceptor.get_executor(), [&m] {
    error_code ec;
    m.acceptor.close(ec);
    m.retry.cancel();
  });
  for (auto& weak : open)
    if (auto c = weak.lock()) asio::post(c->executor(), [c] { c->close(); });
  // start() may have failed part way (an address in use): stop what was set up.
  if (m.core.waits) m.core.waits->stop();
  {
    std::unique_lock lock(m.core.mutex);
    m.core.all_closed.wait(lock, [&m] { return m.core.open == 0 && m.core.refusing == 0; });
  }
  m.work.reset();
  m.core.ioc.stop();
  for (auto& t : m.io_threads) t.join();
  if (m.core.store_pool) m.core.store_pool->join();
}

}  // namespace xgate::server
