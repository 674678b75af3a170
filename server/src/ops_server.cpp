#include <xgate/server/ops_server.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "metrics.hpp"

namespace xgate::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

struct ops_server::impl {
  ops_options opt;
  std::size_t open = 0;  // connections; only the I/O thread touches it (declared before ioc,
                         // whose destruction ends the exchanges it still holds)
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  std::atomic<unsigned short> bound_port{0};
  bool started = false;

  explicit impl(ops_options o) : opt(std::move(o)) {}

  // One request per connection (Connection: close): scrapers and probes open one each time.
  struct exchange : std::enable_shared_from_this<exchange> {
    impl& server;
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    http::request_parser<http::empty_body> parser;
    http::response<http::string_body> res;

    exchange(impl& s, tcp::socket socket) : server(s), stream(std::move(socket)) {
      ++server.open;
      parser.header_limit(8 * 1024);
      parser.body_limit(0);
    }
    ~exchange() { --server.open; }

    void start() {
      stream.expires_after(server.opt.timeout);
      http::async_read(stream, buffer, parser, [self = shared_from_this()](error_code ec, std::size_t) {
        if (ec) return;  // a closed, slow or malformed request: nothing worth an answer
        self->answer(self->parser.get());
      });
    }

    void answer(const http::request<http::empty_body>& req) {
      res.version(req.version());
      res.keep_alive(false);
      res.set(http::field::cache_control, "no-store");
      std::string_view target = req.target();
      std::string_view path = target.substr(0, target.find('?'));
      const bool query = path.size() != target.size();
      const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
      std::string type = "text/plain; charset=utf-8";
      if (path != "/metrics" && path != "/healthz" && path != "/readyz") {
        res.result(http::status::not_found);
        res.body() = "no such route: " + std::string(path) + " (this port serves /metrics, /healthz, /readyz)\n";
      } else if (!get) {
        res.result(http::status::method_not_allowed);
        res.set(http::field::allow, "GET, HEAD");
        res.body() = "method " + std::string(req.method_string()) + " not allowed here (allowed: GET, HEAD)\n";
      } else if (query) {
        res.result(http::status::bad_request);
        res.body() = "bad query: " + std::string(path) + " takes no parameters\n";
      } else if (path == "/healthz") {
        res.result(http::status::ok);
        res.body() = "ok\n";
      } else if (path == "/readyz") {
        std::string why;
        try {
          if (server.opt.readiness) why = server.opt.readiness();
        } catch (const std::exception& e) {
          why = e.what();
        }
        res.result(why.empty() ? http::status::ok : http::status::service_unavailable);
        res.body() = detail::readiness_body(why);
      } else {
        xgate::metrics::text out;
        detail::write_build_info(out);
        try {
          if (server.opt.metrics) server.opt.metrics(out);
          res.result(http::status::ok);
          res.body() = std::move(out).str();
          type = detail::metrics_content_type;
        } catch (const std::exception& e) {
          res.result(http::status::internal_server_error);
          res.body() = std::string("metrics: ") + e.what() + "\n";
        }
      }
      res.set(http::field::content_type, type);
      res.prepare_payload();
      if (req.method() == http::verb::head) res.body().clear();  // Content-Length stays the GET's
      http::async_write(stream, res, [self = shared_from_this()](error_code, std::size_t) {
        error_code ignored;
        self->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      });
    }
  };

  void accept() {
    acceptor.async_accept(ioc, [this](error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec && open < opt.max_connections) {
        try {
          std::make_shared<exchange>(*this, std::move(socket))->start();
        } catch (const std::exception&) {
          // no memory for this one; it closes as its socket goes
        }
      }
      accept();
    });
  }
};

ops_server::ops_server(ops_options options) : impl_(std::make_unique<impl>(std::move(options))) {}

ops_server::~ops_server() { stop(); }

void ops_server::start() {
  impl& m = *impl_;
  if (m.started) throw std::logic_error("xgate::server::ops_server::start called twice");
  m.started = true;
  error_code ec;
  auto address = asio::ip::make_address(m.opt.address, ec);
  if (ec) throw std::system_error(ec.value(), std::generic_category(), "bad listen address \"" + m.opt.address + "\"");
  tcp::endpoint ep(address, m.opt.port);
  m.acceptor.open(ep.protocol());
  m.acceptor.set_option(asio::socket_base::reuse_address(true));
  m.acceptor.bind(ep, ec);
  if (ec)
    throw std::system_error(ec.value(), std::generic_category(),
                            "cannot listen on " + m.opt.address + ":" + std::to_string(m.opt.port));
  m.acceptor.listen();
  m.bound_port = m.acceptor.local_endpoint().port();
  m.work.emplace(m.ioc.get_executor());
  m.accept();
  m.thread = std::thread([&m] { m.ioc.run(); });
}

unsigned short ops_server::port() const noexcept { return impl_->bound_port; }

std::string ops_server::url() const {
  const std::string& a = impl_->opt.address;
  return "http://" + (a.find(':') != std::string::npos ? "[" + a + "]" : a) + ":" + std::to_string(port());
}

void ops_server::stop() {
  impl& m = *impl_;
  if (!m.thread.joinable()) return;
  m.work.reset();
  m.ioc.stop();  // exchanges still pending are dropped with the io_context
  m.thread.join();
  error_code ignored;
  m.acceptor.close(ignored);
}

}  // namespace xgate::server
