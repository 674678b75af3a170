#include "connection.hpp"

#include <algorithm>
#include <sstream>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <xgate/tls/context.hpp>
#include <xgate/xmlcodec/rights.hpp>

namespace xgate::server::detail {

using boost::system::error_code;
using std::chrono::steady_clock;

namespace {

constexpr std::size_t header_limit = 64 * 1024;
constexpr std::size_t read_chunk = 4096;
// After a refused body: how long and how much of the rest is read and discarded, so that the
// client reads our answer instead of a connection reset.
constexpr auto drain_time = std::chrono::seconds(5);
constexpr std::size_t drain_bytes = std::size_t{256} << 20;
// A refused connection gets this long to take its 503 and hang up.
constexpr auto refusal_time = std::chrono::milliseconds(500);

std::string peer_of(const tcp::socket& s) {
  error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "-";
  return ep.address().is_v6() ? "[" + ep.address().to_string() + "]:" + std::to_string(ep.port())
                              : ep.address().to_string() + ":" + std::to_string(ep.port());
}

// What a plain-HTTP client on the TLS port is told, in plain HTTP (as nginx does).
std::string plain_http_on_tls_answer() {
  const std::string body = "this server speaks TLS: use https://\n";
  return "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nX-Xgate-Error: bad_request\r\n"
         "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// The client went away, stalled past a deadline, or the connection was closed: nothing to say.
bool quiet_end(error_code ec) {
  return ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor;
}

}  // namespace

void core::log(const std::string& peer, const request& req, unsigned status, const std::string& principal, std::size_t bytes,
               steady_clock::time_point t0) {
  const steady_clock::time_point now = steady_clock::now();
  metrics.record(split_target(req.target()).path, req.method_string(), status, now - t0);
  if (!options.log || !options.log->enabled(log_level::info)) return;
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - t0).count();
  std::string_view target = req.target();
  // The login route takes its token in the body; its query is dropped whatever it holds.
  if (split_target(target).path == "/login") target = split_target(target).path;
  const std::string method = log_safe(req.method_string()), safe_target = redact_target(target),
                    who = principal.empty() ? "-" : log_safe(principal);
  options.log->write(log_level::info, "xgated",
                     peer + " " + method + " " + safe_target + " " + std::to_string(status) + " " + who + " " +
                         std::to_string(bytes) + " " + std::to_string(us) + "us",
                     {{"peer", peer}, {"method", method}, {"target", safe_target}, {"status", status}, {"principal", who},
                      {"bytes", bytes}, {"us", us}});
}

void core::note(const std::string& line) {
  // our own words: nothing from the request
  if (options.log) options.log->write(log_level::warning, "xgated", line);
}

// ---- connection ---------------------------------------------------------------------------

connection::connection(core& c, tcp::socket socket, std::string address)
    : core_(c),
      executor_(socket.get_executor()),
      stream_(std::move(socket), c.tls ? c.tls->current() : nullptr),
      address_(std::move(address)) {
  peer_ = peer_of(stream_.lowest().socket());
}

connection::~connection() {
  std::lock_guard lock(core_.mutex);
  --core_.open;
  auto it = core_.per_address.find(address_);
  if (it != core_.per_address.end() && --it->second == 0) core_.per_address.erase(it);
  core_.live.erase(this);
  core_.all_closed.notify_all();
}

void connection::start() {
  if (!stream_.is_tls()) return read_request();
  // A handshake is bounded like a request's headers: a silent client holds nothing.
  stream_.lowest().expires_after(core_.options.header_timeout);
  stream_.tls().async_handshake(asio::ssl::stream_base::server,
                                beast::bind_front_handler(&connection::on_handshake, shared_from_this()));
}

void connection::on_handshake(error_code ec) {
  if (!ec) {
    // Only a name the store could hold is a principal ("*" and "creator" are rights' words).
    std::string cn = xgate::tls::peer_common_name(stream_.tls().native_handle());
    if (xgate::is_valid_principal(cn) && cn != "*" && cn != "creator") certified_ = std::move(cn);
    return read_request();
  }
  if (closed_ || quiet_end(ec)) return close();
  if (!xgate::tls::is_plain_http(ec)) {
    core_.note(peer_ + ": " + xgate::tls::handshake_failure(stream_.tls().native_handle(), ec));
    return close();
  }
  core_.note(peer_ + ": plain HTTP on the TLS port: answered 400 (use https://)");
  stream_.lowest().expires_after(core_.options.idle_timeout);
  static const std::string answer = plain_http_on_tls_answer();
  asio::async_write(stream_.lowest(), asio::buffer(answer), [self = shared_from_this()](error_code, std::size_t) {
    self->close();
  });
}

void connection::close() {
  if (closed_) return;
  closed_ = true;
  if (waiting_) {
    waiting_->claim();  // the notifier drops it
    waiting_.reset();
  }
  stream_.close();
}

void connection::read_request() {
  if (closed_) return;
  parser_.emplace();
  parser_->body_limit(core_.options.max_document);
  parser_->header_limit(header_limit);
  if (buffer_.size() > 0) return read_header();  // pipelined: the next request is here already
  // Between requests the idle timeout applies; the header deadline starts with a first byte.
  stream_.lowest().expires_after(core_.options.idle_timeout);
  stream_.async_read_some(buffer_.prepare(read_chunk), beast::bind_front_handler(&connection::on_first_bytes, shared_from_this()));
}

void connection::on_first_bytes(error_code ec, std::size_t n) {
  buffer_.commit(n);
  if (ec) return close();
  read_header();
}

void connection::read_header() {
  stream_.lowest().expires_after(core_.options.header_timeout);
  http::async_read_header(stream_, buffer_, *parser_, beast::bind_front_handler(&connection::on_header, shared_from_this()));
}

void connection::on_header(error_code ec, std::size_t) {
  t0_ = steady_clock::now();
  if (ec == http::error::body_limit) return refuse_body();
  if (ec) return bad_request(ec);
  auto& h = parser_->get();
  auto expect = h.find(http::field::expect);
  if (expect == h.end() || !beast::iequals(expect->value(), "100-continue")) return read_body();
  continue_.emplace(http::status::continue_, h.version());
  stream_.lowest().expires_after(core_.options.idle_timeout);
  http::async_write(stream_, *continue_, [self = shared_from_this()](error_code e, std::size_t) {
    if (e) return self->close();
    self->read_body();
  });
}

void connection::read_body() {
  stream_.lowest().expires_after(core_.options.body_timeout);
  http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&connection::on_body, shared_from_this()));
}

void connection::on_body(error_code ec, std::size_t) {
  if (ec == http::error::body_limit) return refuse_body();
  if (ec) return close();  // the client went away or missed the body deadline
  req_ = parser_->release();
  parser_.reset();
  run();
}

// Garbage gets a 400 before the connection closes; a client that went away or stalled gets
// nothing.
void connection::bad_request(error_code why) {
  if (quiet_end(why) || closed_ || buffer_.size() == 0 || core_.is_stopping()) return close();
  request bad;
  bad.version(11);
  bad.keep_alive(false);
  res_ = error_response(bad, http::status::bad_request, "bad_request", "malformed HTTP request: " + why.message());
  res_.prepare_payload();
  stream_.lowest().expires_after(core_.options.idle_timeout);
  http::async_write(stream_, res_, [self = shared_from_this()](error_code, std::size_t) { self->close(); });
}

namespace {

// A request answered on the connection's own thread: a GET that reads one document, its
// info, the revision or the caller. Each is one short read transaction, shorter than the
// hand-over to a store thread and back (which tripled a GET's latency); writes (they wait
// for a commit), queries, lists, long polls and the browser view go to the store threads.
bool answered_inline(const request& req) {
  if (req.method() != http::verb::get && req.method() != http::verb::head) return false;
  std::string_view path = split_target(req.target()).path;
  return path.starts_with("/store/") || path.starts_with("/info/") || path == "/revision" || path == "/whoami";
}

}  // namespace

void connection::run() {
  if (answered_inline(req_)) {
    exchange x{core_.store, core_.options, {}, {}, {}, core_.queries ? &*core_.queries : nullptr,
               core_.logins ? &*core_.logins : nullptr, address_, {}, certified_, &core_.metrics, {}};
    response res = handle(x, req_);
    if (!x.note.empty()) core_.note(x.note);
    principal_ = std::move(x.principal);
    more_ = std::move(x.more);
    return send(std::move(res));
  }
  call_stop_ = std::stop_source();
  hung_up_ = false;
  asio::post(*core_.store_pool, [self = shared_from_this(), stop = call_stop_] {
    core& c = self->core_;
    std::stop_callback on_shutdown(c.shutdown.get_token(), [stop]() mutable { stop.request_stop(); });
    exchange x{c.store, c.options, {}, {}, stop.get_token(), c.queries ? &*c.queries : nullptr,
               c.logins ? &*c.logins : nullptr, self->address_, {}, self->certified_, &c.metrics, {}};
    response res = handle(x, self->req_);
    if (!x.note.empty()) c.note(x.note);
    http::verb method = self->req_.method();
    if (method != http::verb::get && method != http::verb::head) c.waits->poke();
    if (!x.pending) {
      asio::post(self->executor_, [self, res = std::move(res), principal = std::move(x.principal),
                                   more = std::move(x.more)]() mutable {
        self->principal_ = std::move(principal);
        self->more_ = std::move(more);
        self->finish_call(std::move(res));
      });
      return;
    }
    pending_watch& p = *x.pending;
    std::weak_ptr<connection> weak = self;
    auto done = [weak, answer = std::move(p.answer)](std::vector<store::change> found, std::exception_ptr error) {
      std::shared_ptr<connection> conn = weak.lock();
      if (!conn) return;
      try {
        response r = answer(found, error);
        asio::post(conn->executor_, [conn, r = std::move(r)]() mutable { conn->finish_wait(std::move(r)); });
      } catch (...) {
        asio::post(conn->executor_, [conn] { conn->close(); });
      }
    };
    auto e = std::make_shared<watches::entry>(p.who, p.prefix, p.after, p.limit, p.checked, steady_clock::now() + p.timeout, std::move(done));
    // Posted before the entry can complete, so the strand sees begin_wait before finish_wait.
    asio::post(self->executor_, [self, e, principal = std::move(x.principal)]() mutable {
      self->principal_ = std::move(principal);
      self->begin_wait(std::move(e));
    });
    c.waits->add(std::move(e));
  });
  watch_hangup();
}

void connection::watch_hangup() {
  waiting_read_ = true;
  stream_.lowest().expires_never();  // the call's own budgets and the long poll's timeout bound the wait
  stream_.async_read_some(buffer_.prepare(read_chunk), beast::bind_front_handler(&connection::on_waiting_read, shared_from_this()));
}

void connection::finish_call(response res) {
  if (closed_) return;
  if (!waiting_read_) return send(std::move(res));
  answer_ = std::move(res);
  stream_.lowest().cancel();  // on_waiting_read sends it
}

// A long poll goes on watching the connection as its store call did: a client that hangs up
// frees its entry at once. Bytes of a pipelined next request are kept for later.
void connection::begin_wait(std::shared_ptr<watches::entry> e) {
  if (closed_ || hung_up_) {
    e->claim();
    return close();
  }
  waiting_ = std::move(e);
}

void connection::on_waiting_read(error_code ec, std::size_t n) {
  waiting_read_ = false;
  buffer_.commit(n);
  if (answer_) {
    response r = std::move(*answer_);
    answer_.reset();
    return send(std::move(r));
  }
  if (!ec) return;  // pipelined bytes: nothing more is read until the answer is sent
  if (waiting_) return close();
  // The client hung up (or only stopped sending) during the store call: the call is
  // cancelled, and its answer is still sent, for the client that only stopped sending.
  hung_up_ = true;
  call_stop_.request_stop();
}

void connection::finish_wait(response res) {
  if (closed_) return;
  waiting_.reset();
  if (!waiting_read_) return send(std::move(res));
  answer_ = std::move(res);
  stream_.lowest().cancel();  // on_waiting_read sends it
}

void connection::send(response res) {
  if (closed_) return;
  bool keep = req_.keep_alive() && res.keep_alive() && !core_.is_stopping();
  res.keep_alive(keep);
  res_ = std::move(res);
  status_ = res_.result_int();
  stream_.lowest().expires_after(core_.options.idle_timeout);
  auto self = shared_from_this();
  if (more_) return send_streamed(keep);
  if (req_.method() == http::verb::head) {
    // Headers as GET would send them (Content-Length included), no body.
    if (!res_.has_content_length()) res_.prepare_payload();
    bytes_ = 0;
    head_.emplace(std::move(res_.base()));
    head_writer_.emplace(*head_);
    http::async_write_header(stream_, *head_writer_, [self, keep](error_code ec, std::size_t) { self->on_sent(ec, keep); });
    return;
  }
  res_.prepare_payload();
  bytes_ = res_.body().size();
  http::async_write(stream_, res_, [self, keep](error_code ec, std::size_t) { self->on_sent(ec, keep); });
}

// A streamed answer goes out in chunks: the headers and the first part, then each part more_
// gives, produced on a store thread while nothing is being written, so a slow reader holds
// up only its own answer (each write has the idle timeout as its deadline).
void connection::send_streamed(bool keep) {
  auto self = shared_from_this();
  head_.emplace(std::move(res_.base()));
  head_->chunked(true);
  part_ = std::move(res_.body());
  res_ = {};
  bytes_ = 0;
  head_writer_.emplace(*head_);
  if (req_.method() == http::verb::head) {
    more_ = nullptr;
    http::async_write_header(stream_, *head_writer_, [self, keep](error_code ec, std::size_t) { self->on_sent(ec, keep); });
    return;
  }
  http::async_write_header(stream_, *head_writer_, [self, keep](error_code ec, std::size_t) {
    if (ec) return self->close();
    self->write_part(keep);
  });
}

void connection::write_part(bool keep) {
  if (closed_) return;
  auto self = shared_from_this();
  stream_.lowest().expires_after(core_.options.idle_timeout);
  if (part_.empty()) {
    more_ = nullptr;
    asio::async_write(stream_, http::make_chunk_last(), [self, keep](error_code ec, std::size_t) { self->on_sent(ec, keep); });
    return;
  }
  bytes_ += part_.size();
  asio::async_write(stream_, http::make_chunk(asio::buffer(part_)), [self, keep](error_code ec, std::size_t) {
    if (ec || self->core_.is_stopping()) return self->close();
    asio::post(*self->core_.store_pool, [self, keep] {
      std::string part;
      try {
        part = self->more_();
      } catch (const store::store_error& e) {
        // The code, not the message: that names the request's own prefix.
        self->core_.note("answer to " + self->peer_ + " cut short by the store's error " + store::to_string(e.reason()));
        asio::post(self->executor_, [self] { self->close(); });
        return;
      } catch (const std::exception&) {
        self->core_.note("answer to " + self->peer_ + " cut short by an unexpected error");
        asio::post(self->executor_, [self] { self->close(); });
        return;
      }
      asio::post(self->executor_, [self, keep, part = std::move(part)]() mutable {
        self->part_ = std::move(part);
        self->write_part(keep);
      });
    });
  });
}

void connection::on_sent(error_code ec, bool keep) {
  core_.log(peer_, req_, status_, principal_, bytes_, t0_);
  head_writer_.reset();
  head_.reset();
  res_ = {};
  more_ = nullptr;
  part_.clear();
  principal_.clear();
  if (ec || !keep) return close();
  read_request();
}

void connection::refuse_body() {
  const auto& partial = parser_->get();
  request req;
  req.method_string(partial.method_string());
  req.target(partial.target());
  req.version(partial.version());
  res_ = error_response(req, http::status::payload_too_large, "too_large",
                        "request body larger than the server's limit of " + std::to_string(core_.options.max_document) +
                            " bytes");
  res_.keep_alive(false);
  res_.prepare_payload();
  req_ = std::move(req);
  status_ = res_.result_int();
  bytes_ = res_.body().size();
  stream_.lowest().expires_after(core_.options.idle_timeout);
  http::async_write(stream_, res_, [self = shared_from_this()](error_code ec, std::size_t) {
    self->core_.log(self->peer_, self->req_, self->status_, "", self->bytes_, self->t0_);
    if (ec) return self->close();
    self->drain();
  });
}

void connection::drain() {
  if (closed_) return;
  auto now = steady_clock::now();
  if (!drain_buffer_) {
    error_code ec;
    stream_.lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    drain_buffer_ = std::make_unique<char[]>(read_chunk * 16);
    drain_until_ = now + drain_time;
  }
  if (drained_ >= drain_bytes || now >= drain_until_) return close();
  stream_.lowest().expires_after(std::min<steady_clock::duration>(std::chrono::seconds(1), drain_until_ - now));
  stream_.async_read_some(asio::buffer(drain_buffer_.get(), read_chunk * 16), [self = shared_from_this()](error_code ec, std::size_t n) {
    self->drained_ += n;
    if (ec) return self->close();
    self->drain();
  });
}

// ---- refusal ------------------------------------------------------------------------------

refusal::refusal(core& c, tcp::socket socket, std::string message)
    : core_(c), executor_(socket.get_executor()), stream_(std::move(socket), c.tls ? c.tls->current() : nullptr) {
  request head;
  head.version(11);
  response r = error_response(head, http::status::service_unavailable, "unavailable", message);
  r.set(http::field::retry_after, "1");
  r.keep_alive(false);
  r.prepare_payload();
  std::ostringstream out;
  out << r;
  bytes_ = out.str();
}

refusal::~refusal() {
  std::lock_guard lock(core_.mutex);
  --core_.refusing;
  core_.all_closed.notify_all();
}

void refusal::start() {
  until_ = steady_clock::now() + refusal_time;
  stream_.lowest().expires_after(refusal_time);
  if (!stream_.is_tls()) return answer();
  stream_.tls().async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](error_code ec) {
    if (!ec) self->answer();
  });
}

void refusal::answer() {
  asio::async_write(stream_, asio::buffer(bytes_), [self = shared_from_this()](error_code ec, std::size_t) {
    if (ec) return;
    error_code ignored;
    self->stream_.lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    self->drain();
  });
}

// Reads until the client hangs up (or the time is up), so that it gets the 503 rather than a
// reset for the request bytes it sent.
void refusal::drain() {
  auto now = steady_clock::now();
  if (now >= until_ || core_.is_stopping()) return;
  stream_.lowest().expires_after(until_ - now);
  stream_.async_read_some(asio::buffer(sink_), [self = shared_from_this()](error_code ec, std::size_t) {
    if (!ec) self->drain();
  });
}

}  // namespace xgate::server::detail
