#include <xgate/channel/tcp.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <xgate/tls/stream.hpp>

namespace xgate::channel {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Read buffer sizes: a connection that has not logged in gets a small one (with the hub's
// small frame limit before login), so that many idle or hostile ones cost little memory.
constexpr std::size_t read_buffer_before_login = 4096, read_buffer = 65536;

// One accepted socket. Reads run on the socket's strand; writes are started from any
// thread (the hub calls send under its lock) by posting to the strand.
struct session : std::enable_shared_from_this<session> {
  xgate::tls::stream sock;  // TLS when the server has a certificate
  frame_reader reader;
  std::size_t max_frame;
  bool logged_in = false;  // on the strand
  std::vector<char> rbuf = std::vector<char>(read_buffer_before_login);
  std::shared_ptr<hub_connection> hc;
  std::mutex wmu;
  std::string out, writing;  // out: queued; writing: in the kernel's hands
  bool write_active = false, close_after = false, closed = false;
  std::function<void(session*)> on_gone;

  session(tcp::socket s, asio::ssl::context* tls, const hub_options& o)
      : sock(std::move(s), tls), reader(o.max_frame_before_login), max_frame(o.max_frame) {}

  // A TLS handshake must be done within handshake_time; the hub's own deadlines take over
  // after it (a link that does not log in is expired).
  void start(std::chrono::milliseconds handshake_time) {
    if (!sock.is_tls()) return read();
    sock.lowest().expires_after(handshake_time);
    sock.tls().async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](boost::system::error_code ec) {
      self->sock.lowest().expires_never();
      if (ec) return self->gone();
      self->read();
    });
  }

  void read() {
    auto self = shared_from_this();
    sock.async_read_some(asio::buffer(rbuf), [self](boost::system::error_code ec, std::size_t n) {
      if (ec) return self->gone();
      try {
        self->reader.feed(std::string_view(self->rbuf.data(), n));
        while (auto f = self->reader.next()) {
          self->hc->on_frame(std::move(*f));
          if (!self->logged_in && !self->hc->endpoint().empty()) {
            self->logged_in = true;
            self->reader.set_max_frame(self->max_frame);
            self->rbuf.resize(read_buffer);
          }
        }
      } catch (const channel_error& e) {
        // Not frames: the hub logs it, sends error and closes (through close()).
        self->hc->on_bad_input(e);
        return;
      }
      self->read();
    });
  }

  // The hub's send callback.
  void send(std::vector<frame> fs) {
    std::lock_guard lock(wmu);
    if (closed || close_after) return;
    for (auto& f : fs) {
      try {
        append_framed(f, out, max_frame);
      } catch (const channel_error& e) {
        // A frame too large for the peer (e.g. a huge error reason): not sent.
        (void)e;
      }
    }
    start_write_locked();
  }

  // The hub's close callback: after what was sent is written.
  void close() {
    std::lock_guard lock(wmu);
    close_after = true;
    if (!write_active) {
      write_active = true;  // nothing more may start
      asio::post(sock.get_executor(), [self = shared_from_this()] { self->shut(); });
    }
  }

  void start_write_locked() {
    if (write_active || out.empty()) return;
    write_active = true;
    asio::post(sock.get_executor(), [self = shared_from_this()] { self->write(); });
  }

  void write() {
    {
      std::lock_guard lock(wmu);
      writing.clear();
      std::swap(writing, out);
      if (writing.empty()) {
        write_active = false;
        if (close_after) {
          write_active = true;
          asio::post(sock.get_executor(), [self = shared_from_this()] { self->shut(); });
        }
        return;
      }
    }
    asio::async_write(sock, asio::buffer(writing), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      if (ec) return self->gone();
      self->write();
    });
  }

  void shut() {
    sock.close();
    gone();
  }

  void gone() {
    {
      std::lock_guard lock(wmu);
      if (closed) return;
      closed = true;
    }
    sock.close();
    hc->on_closed();
    if (on_gone) on_gone(this);
  }
};

}  // namespace

struct tcp_hub_server::impl {
  hub& h;
  tcp_server_options opt;
  asio::io_context io;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<std::shared_ptr<session>> sessions;
  std::atomic<unsigned short> port{0};
  bool started = false, stopped = false;
  std::optional<xgate::tls::server_contexts> tls;  // opt.tls

  impl(hub& hb, tcp_server_options o) : h(hb), opt(std::move(o)) {}

  void accept() {
    acceptor->async_accept(asio::make_strand(io), [this](boost::system::error_code ec, tcp::socket sock) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
      if (!ec) serve(std::move(sock));
      accept();
    });
  }

  void serve(tcp::socket sock) {
    boost::system::error_code ec;
    sock.set_option(tcp::no_delay(true), ec);  // frames are small; latency matters more
    auto remote = sock.remote_endpoint(ec);
    std::string peer = (tls ? "tls " : "tcp ") + (ec ? std::string("?") : remote.address().to_string() + ":" + std::to_string(remote.port()));
    std::lock_guard lock(mu);
    if (stopped || sessions.size() >= opt.max_connections) {
      sock.close(ec);
      return;
    }
    auto s = std::make_shared<session>(std::move(sock), tls ? tls->current() : nullptr, h.options());
    std::weak_ptr<session> w = s;
    s->hc = h.open(
        std::move(peer), [w](std::vector<frame> fs) {
          if (auto p = w.lock()) p->send(std::move(fs));
        },
        [w] {
          if (auto p = w.lock()) p->close();
        });
    s->on_gone = [this](session* p) {
      std::lock_guard lock(mu);
      for (auto it = sessions.begin(); it != sessions.end(); ++it)
        if (it->get() == p) {
          sessions.erase(it);
          break;
        }
    };
    sessions.insert(s);
    asio::post(s->sock.get_executor(), [s, t = opt.handshake_timeout] { s->start(t); });
  }
};

tcp_hub_server::tcp_hub_server(hub& h, tcp_server_options options) : impl_(std::make_unique<impl>(h, std::move(options))) {}

tcp_hub_server::~tcp_hub_server() { stop(); }

void tcp_hub_server::start() {
  if (impl_->started) throw std::logic_error("tcp_hub_server::start called twice");
  impl_->started = true;
  if (!impl_->opt.tls.certificate.empty()) impl_->tls.emplace(impl_->opt.tls);
  tcp::endpoint ep(asio::ip::make_address(impl_->opt.address), impl_->opt.port);
  impl_->acceptor.emplace(impl_->io);
  impl_->acceptor->open(ep.protocol());
  impl_->acceptor->set_option(tcp::acceptor::reuse_address(true));  // a restarted hub takes its port back at once
  impl_->acceptor->bind(ep);
  impl_->acceptor->listen();
  impl_->port = impl_->acceptor->local_endpoint().port();
  impl_->accept();
  for (unsigned i = 0; i < std::max(1u, impl_->opt.threads); ++i) impl_->threads.emplace_back([this] { impl_->io.run(); });
}

unsigned short tcp_hub_server::port() const noexcept { return impl_->port; }

void tcp_hub_server::reload_tls() {
  if (impl_->tls) impl_->tls->reload();
}

std::string tcp_hub_server::url() const {
  std::string a = impl_->opt.address;
  if (a.find(':') != std::string::npos) a = "[" + a + "]";
  return (impl_->opt.tls.certificate.empty() ? "tcp://" : "tls://") + a + ":" + std::to_string(port());
}

void tcp_hub_server::stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped || !impl_->started) {
      impl_->stopped = true;
      return;
    }
    impl_->stopped = true;
  }
  asio::post(impl_->io, [this] {
    boost::system::error_code ec;
    impl_->acceptor->close(ec);
  });
  std::set<std::shared_ptr<session>> all;
  {
    std::lock_guard lock(impl_->mu);
    all = impl_->sessions;
  }
  for (auto& s : all) asio::post(s->sock.get_executor(), [s] { s->shut(); });
  // Let the closes run, then stop the loop.
  asio::post(impl_->io, [this] { impl_->io.stop(); });
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  std::lock_guard lock(impl_->mu);
  for (auto& s : impl_->sessions) {
    s->sock.close();
    s->hc->on_closed();
  }
  impl_->sessions.clear();
}

bool parse_listen(const std::string& text, std::string& address, unsigned short& port) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
  address = text.substr(0, colon);
  if (address.front() == '[') {
    if (address.back() != ']') return false;
    address = address.substr(1, address.size() - 2);
  }
  std::string p = text.substr(colon + 1);
  if (p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  unsigned long v = std::stoul(p);
  if (v > 65535) return false;
  port = static_cast<unsigned short>(v);
  return true;
}

}  // namespace xgate::channel
