// The endpoint's side of the HTTP long-poll transport (longpoll.hpp): a session of POST
// requests, up to longpoll_options::max_requests in flight, each on its own kept-alive
// HTTP connection to the hub or the forward proxy. The wire is in longpoll_wire.hpp.
#include <xgate/channel/longpoll.hpp>

#include <fcntl.h>
#include <netdb.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include <boost/beast/core/flat_buffer.hpp>

#include <xgate/base/error.hpp>
#include <xgate/channel/error.hpp>
#include <xgate/tls/context.hpp>

#include "http_url.hpp"
#include "longpoll_wire.hpp"

namespace xgate::channel {

namespace beast = boost::beast;
using namespace longpoll_wire;

namespace {

// Connects within timeout; -1 on failure (errno-like reason in why).
int connect_to(const xgate::url& a, milliseconds timeout, std::string& why) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int r = ::getaddrinfo(a.host.c_str(), std::to_string(a.port).c_str(), &hints, &res); r != 0) {
    why = "cannot resolve " + a.host + ": " + ::gai_strerror(r);
    return -1;
  }
  int fd = -1;
  auto deadline = clock_type::now() + timeout;
  for (addrinfo* ai = res; ai && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    int r = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (r < 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      auto left = std::chrono::duration_cast<milliseconds>(deadline - clock_type::now()).count();
      int err = ETIMEDOUT;
      if (left > 0 && ::poll(&p, 1, static_cast<int>(left)) > 0) {
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
      r = err == 0 ? 0 : -1;
      errno = err;
    }
    if (r < 0) {
      why = "cannot connect to " + a.authority() + ": " + std::strerror(errno);
      ::close(fd);
      fd = -1;
      continue;
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    set_nodelay(fd);
  }
  ::freeaddrinfo(res);
  return fd;
}

// For https://: the context, and the last session for resumption. Shared by a transport's
// connections and their request threads.
struct tls_client {
  explicit tls_client(boost::asio::ssl::context c) : context(std::move(c)) {}
  boost::asio::ssl::context context;
  std::mutex mutex;
  session_ptr session;  // guarded by mutex
};

struct target {
  xgate::url hub;                    // where the sessions are
  std::optional<xgate::url> proxy;   // requests go here, with absolute URIs (http://) or through CONNECT (https://)
  std::shared_ptr<tls_client> tls;   // https://
  std::string request_target() const {
    return proxy && !tls ? "http://" + hub.authority() + hub.path : hub.path;
  }
  const xgate::url& peer() const { return proxy ? *proxy : hub; }
};

struct round_trip_result {
  bool ok = false;              // a response came
  unsigned status = 0;
  http::response<http::string_body> response;
  std::string why;              // when !ok
  bool insecure = false;        // TLS refused the hub: retrying will not help
};

// One HTTP connection (to the hub or the proxy), kept alive between requests.
class http_channel {
 public:
  ~http_channel() { close(); }
  // fd access for shutdown() from another thread goes through the owner's mutex.
  int fd() const noexcept { return fd_; }

  round_trip_result exchange(const target& t, http::request<http::string_body>& req, milliseconds connect_timeout,
                             clock_type::time_point deadline, std::mutex& owner, const std::atomic<bool>& closing) {
    round_trip_result r;
    if (fd_ < 0) {
      int fd = connect_to(t.peer(), std::min(connect_timeout, std::chrono::duration_cast<milliseconds>(deadline - clock_type::now())), r.why);
      if (fd < 0) return r;
      {
        std::lock_guard lock(owner);
        if (closing) {
          ::close(fd);
          r.why = "closed";
          return r;
        }
        fd_ = fd;
        buffer_.clear();
      }
      if (t.tls && !secure(t, deadline, r)) {
        reset(owner);
        return r;
      }
    }
    fd_stream s(fd_, ssl_.get());
    s.deadline(deadline);
    error_code ec;
    http::write(s, req, ec);
    if (!ec) {
      http::response_parser<http::string_body> parser;
      parser.body_limit(std::size_t{256} << 20);
      http::read(s, buffer_, parser, ec);
      if (!ec) {
        r.response = parser.release();
        r.ok = true;
        r.status = r.response.result_int();
        if (!r.response.keep_alive()) reset(owner);
        return r;
      }
    }
    r.why = ec == asio::error::timed_out ? std::string("no response in time") : ec.message();
    reset(owner);
    return r;
  }
  void reset(std::mutex& owner) {
    std::lock_guard lock(owner);
    close();
  }
  void close() {
    ssl_.reset();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  // On a fresh connection to an https:// hub: the proxy's CONNECT tunnel when there is a
  // proxy, then the TLS handshake (resuming the transport's last session). False, with
  // r.why (and r.insecure when TLS refused the hub), when either fails.
  bool secure(const target& t, clock_type::time_point deadline, round_trip_result& r) {
    error_code ec;
    if (t.proxy) {
      fd_stream plain(fd_);
      plain.deadline(deadline);
      http::request<http::empty_body> connect{http::verb::connect, t.hub.authority(), 11};
      connect.set(http::field::host, t.hub.authority());
      http::write(plain, connect, ec);
      http::response_parser<http::empty_body> p;
      p.skip(true);  // a CONNECT answer has no body: the tunnel follows
      if (!ec) http::read(plain, buffer_, p, ec);
      if (ec || p.get().result_int() != 200) {
        r.why = "proxy " + t.proxy->authority() + ": CONNECT " + t.hub.authority() + ": " +
                (ec ? ec.message() : "HTTP " + std::to_string(p.get().result_int()));
        return false;
      }
      buffer_.clear();
    }
    set_nonblocking(fd_);
    ssl_.reset(SSL_new(t.tls->context.native_handle()));
    if (!ssl_ || !xgate::tls::attach_socket(ssl_.get(), fd_)) {
      r.why = "TLS: SSL_new failed";
      return false;
    }
    try {
      xgate::tls::expect_host(ssl_.get(), t.hub.host);
    } catch (const xgate::tls::tls_error& e) {
      r.why = e.what();
      r.insecure = true;
      return false;
    }
    {
      std::lock_guard lock(t.tls->mutex);
      if (t.tls->session) SSL_set_session(ssl_.get(), t.tls->session.get());
    }
    fd_stream s(fd_, ssl_.get());
    s.deadline(deadline);
    s.handshake(true, ec);
    if (ec) {
      r.why = "TLS handshake: " + xgate::tls::handshake_failure(ssl_.get(), ec);
      r.insecure = ec.category() == asio::error::get_ssl_category();
      return false;
    }
    if (SSL_SESSION* kept = SSL_get1_session(ssl_.get())) {
      std::lock_guard lock(t.tls->mutex);
      t.tls->session.reset(kept);
    }
    return true;
  }

  int fd_ = -1;
  ssl_ptr ssl_;
  beast::flat_buffer buffer_;
};

class longpoll_connection : public connection {
 public:
  longpoll_connection(target t, transport_options o, longpoll_options lp)
      : target_(std::move(t)), options_(o), lp_(std::move(lp)) {
    lp_.max_requests = std::max<std::size_t>(lp_.max_requests, 2);
  }

  ~longpoll_connection() override {
    close();
    for (auto& t : slots_) t.join();
    bye();
  }

  // Opens the session: one request without frames, answered at once.
  void open() {
    auto deadline = clock_type::now() + options_.connect_timeout;
    std::string why = "no attempt";
    http_channel ch;
    std::mutex dummy;
    std::atomic<bool> never{false};
    for (milliseconds backoff{20}; clock_type::now() < deadline; backoff = std::min(backoff * 2, milliseconds(500))) {
      auto req = make_request("", 0, 0, 0, false, 0);
      auto r = ch.exchange(target_, req, options_.connect_timeout, deadline, dummy, never);
      if (r.ok && r.status == 200 && !header_text(r.response, h_session).empty()) {
        session_ = std::string(header_text(r.response, h_session));
        break;
      }
      why = r.ok ? "HTTP " + std::to_string(r.status) + " " + std::string(header_text(r.response, h_error)) : r.why;
      if (r.insecure) throw xgate::error(net_errc::insecure, description() + ": " + why);
      if (r.ok && r.status != 200 && r.status != 502 && r.status != 503 && r.status != 504) break;  // not worth retrying
      std::this_thread::sleep_for(std::min(backoff, std::chrono::duration_cast<milliseconds>(deadline - clock_type::now())));
    }
    if (session_.empty())
      throw std::system_error(std::make_error_code(std::errc::connection_refused),
                              "channel: long-poll hub " + description() + ": " + why);
    last_success_ = clock_type::now();
    for (std::size_t i = 0; i < lp_.max_requests; ++i) slots_.emplace_back([this, i] { slot(i); });
  }

  void send(std::vector<frame> frames) override {
    std::lock_guard lock(m_);
    if (lost_ || closed_) throw_lost();
    if (!out_.has_pending()) pending_since_ = clock_type::now();
    for (const frame& f : frames) out_.push(f, options_.max_frame);
    work_.notify_all();
  }

  std::vector<frame> receive(milliseconds timeout) override {
    std::unique_lock lock(m_);
    arrived_.wait_for(lock, timeout, [&] { return !inbox_.empty() || woken_ || lost_ || closed_; });
    std::vector<frame> out;
    if (!inbox_.empty()) {
      out.assign(std::make_move_iterator(inbox_.begin()), std::make_move_iterator(inbox_.end()));
      inbox_.clear();
      return out;
    }
    if (woken_) {
      woken_ = false;
      return out;
    }
    if (lost_ || closed_) throw_lost();
    return out;
  }

  void wake() override {
    std::lock_guard lock(m_);
    woken_ = true;
    arrived_.notify_all();
  }

  void close() noexcept override {
    std::lock_guard lock(m_);
    if (closed_) return;
    closed_ = true;
    closing_ = true;
    for (auto& ch : channels_)
      if (ch.fd() >= 0) ::shutdown(ch.fd(), SHUT_RDWR);  // cuts a held request short
    work_.notify_all();
    arrived_.notify_all();
  }

  std::string description() const override {
    return target_.hub.scheme + "://" + target_.hub.authority() + target_.hub.path +
           (target_.proxy ? " via proxy http://" + target_.proxy->authority() : "");
  }

 private:
  [[noreturn]] void throw_lost() const {
    throw std::system_error(std::make_error_code(std::errc::connection_reset),
                            "channel: long-poll session " + description() + ": " + (lost_ ? lost_reason_ : "closed"));
  }

  http::request<http::string_body> make_request(const std::string& session, std::uint64_t seq, std::uint64_t ack,
                                                std::uint64_t seen, bool resend, std::uint64_t wait_ms) const {
    http::request<http::string_body> req{http::verb::post, target_.request_target(), 11};
    req.set(http::field::host, target_.hub.authority());
    req.set(http::field::content_type, bundle_type);
    req.set(http::field::cache_control, "no-store");
    if (!session.empty()) req.set(h_session, session);
    req.set(h_seq, std::to_string(seq));
    req.set(h_ack, std::to_string(ack));
    req.set(h_seen, std::to_string(seen));
    if (resend) req.set(h_resend, "1");
    req.set(h_wait, std::to_string(wait_ms));
    req.keep_alive(true);
    return req;
  }

  // Whether a slot should send a request now, and until when to wait otherwise.
  bool should_send(clock_type::time_point& wake_at) const {
    if (outstanding_ == 0) return true;  // always keep one request at the hub
    if (outstanding_ >= lp_.max_requests || !out_.has_pending()) return false;
    if (out_.pending_frames() >= options_.bundle_frames || out_.pending_bytes() >= options_.bundle_bytes) return true;
    wake_at = pending_since_ + lp_.linger;
    return clock_type::now() >= wake_at;
  }

  void slot(std::size_t index) {
    std::unique_lock lock(m_);
    http_channel& ch = channels_[index];
    milliseconds backoff{0};
    while (!closed_ && !lost_) {
      clock_type::time_point wake_at = clock_type::time_point::max();
      if (!should_send(wake_at)) {
        if (wake_at == clock_type::time_point::max())
          work_.wait(lock);
        else
          work_.wait_until(lock, wake_at);
        continue;
      }
      // Build the request under the lock: its ack, seen and frames are one consistent view.
      std::uint64_t first = 0, last = 0;
      auto req = make_request(session_, 0, received_, seen_, resend_, static_cast<std::uint64_t>(options_.poll_timeout.count()));
      req.body() = out_.take(options_.bundle_frames, options_.bundle_bytes, first, last);
      req.set(h_seq, std::to_string(first));
      req.prepare_payload();
      resend_ = false;
      if (out_.has_pending()) pending_since_ = clock_type::now();
      ++outstanding_;
      auto deadline = clock_type::now() + options_.poll_timeout + lp_.request_grace;
      lock.unlock();
      auto r = ch.exchange(target_, req, options_.connect_timeout, deadline, m_, closing_);
      lock.lock();
      if (closed_) {
        --outstanding_;
        break;
      }
      if (r.ok && r.status == 200) {
        backoff = milliseconds(0);
        on_response(r.response, last);
        --outstanding_;
      } else if (r.ok && r.status == 404) {
        --outstanding_;
        lose("the hub does not know the session (it restarted or closed it): " + std::string(header_text(r.response, h_error)));
      } else if (r.ok && r.status == 400) {
        --outstanding_;
        lose("the hub refused a request: " + std::string(header_text(r.response, h_error)));
      } else {
        // Lost on the way (or a proxy's error): what it carried, and what its response
        // would have carried, must be sent again.
        out_.rewind();
        pending_since_ = clock_type::now() - lp_.linger;
        resend_ = true;
        if (clock_type::now() - last_success_ > lp_.give_up_after) {
          --outstanding_;
          lose("no response for " + std::to_string(lp_.give_up_after.count()) + " ms: " +
               (r.ok ? "HTTP " + std::to_string(r.status) : r.why));
          break;
        }
        backoff = std::clamp(backoff * 2, milliseconds(20), milliseconds(1000));
        // Still counted as outstanding while backing off, so the other slot does not spin.
        work_.wait_for(lock, backoff, [&] { return closed_ || lost_; });
        --outstanding_;
      }
      work_.notify_all();
    }
    work_.notify_all();
  }

  void on_response(http::response<http::string_body>& res, std::uint64_t carried_last) {
    last_success_ = clock_type::now();
    std::uint64_t ack, first, number;
    std::vector<frame> frames;
    try {
      ack = header_number(res, h_ack);
      first = header_number(res, h_seq);
      number = header_number(res, h_response);
      frames = decode_bundle(res.body(), options_.max_frame);
    } catch (const channel_error& e) {
      lose(std::string("the hub sent a bad response: ") + e.what());
      return;
    }
    if (!out_.on_ack(ack)) {
      lose("the hub acknowledged frame " + std::to_string(ack) + ", beyond the last sent " + std::to_string(out_.last()));
      return;
    }
    // The hub took this request's frames before answering: an ack short of them means it
    // refused some (a gap after a lost request), so send them again.
    if (carried_last > 0 && ack < carried_last) {
      out_.rewind();
      pending_since_ = clock_type::now() - lp_.linger;
    }
    seen_ = std::max(seen_, number);
    std::size_t before = inbox_.size();
    if (!frames.empty() && !accept_bundle(first, frames, received_, inbox_)) resend_ = true;
    if (inbox_.size() != before) arrived_.notify_all();
    if (header_flag(res, h_closed)) lose("the hub closed the session");
  }

  void lose(std::string why) {
    if (lost_) return;
    lost_ = true;
    lost_reason_ = std::move(why);
    arrived_.notify_all();
    work_.notify_all();
  }

  // Tells the hub the endpoint leaves (best effort, briefly), so others see it offline now.
  void bye() {
    if (session_.empty() || lost_) return;
    http_channel ch;
    std::mutex dummy;
    std::atomic<bool> never{false};
    auto req = make_request(session_, 0, received_, seen_, false, 0);
    req.set(h_close, "1");
    req.keep_alive(false);
    req.prepare_payload();
    ch.exchange(target_, req, milliseconds(500), clock_type::now() + milliseconds(1000), dummy, never);
  }

  target target_;
  transport_options options_;
  longpoll_options lp_;
  std::string session_;

  std::mutex m_;  // guards what follows
  std::condition_variable work_, arrived_;
  frame_window out_;
  std::uint64_t received_ = 0, seen_ = 0;
  bool resend_ = false;
  std::vector<frame> inbox_;
  bool woken_ = false, closed_ = false, lost_ = false;
  std::atomic<bool> closing_{false};
  std::string lost_reason_;
  std::size_t outstanding_ = 0;
  clock_type::time_point pending_since_{}, last_success_{};
  std::deque<http_channel> channels_{8};  // one per slot (deque: stable addresses)
  std::vector<std::thread> slots_;
};

class longpoll_transport : public transport {
 public:
  longpoll_transport(target t, transport_options o, longpoll_options lp) : target_(std::move(t)), options_(o), lp_(std::move(lp)) {}
  std::unique_ptr<connection> connect() override {
    auto c = std::make_unique<longpoll_connection>(target_, options_, lp_);
    c->open();
    return c;
  }
  std::string description() const override { return target_.hub.scheme + "://" + target_.hub.authority() + target_.hub.path; }

 private:
  target target_;
  transport_options options_;
  longpoll_options lp_;
};

}  // namespace

std::unique_ptr<transport> make_http_transport(std::string_view url, const transport_options& options, longpoll_options lp) {
  target t;
  t.hub = parse_http("hub URL", url, true);
  if (t.hub.scheme == "https") {
    try {
      t.tls = std::make_shared<tls_client>(xgate::tls::client_context(options.tls));
    } catch (const xgate::tls::tls_error& e) {
      throw xgate::error(net_errc::insecure, t.hub.origin() + ": " + e.what());
    }
    SSL_CTX_set_options(t.tls->context.native_handle(), SSL_OP_IGNORE_UNEXPECTED_EOF);  // the hub closes without close_notify
  }
  if (t.hub.path.empty() || t.hub.path == "/") t.hub.path = "/channel";
  std::string proxy = lp.http_proxy;
  if (proxy.empty() && !no_proxy_for(t.hub.host)) {
    const char* env = std::getenv("http_proxy");
    if (!env || !*env) env = std::getenv("HTTP_PROXY");
    if (env) proxy = env;
  }
  if (!proxy.empty() && proxy != "-" && proxy != "none") t.proxy = parse_http("HTTP proxy", proxy);
  lp.max_requests = std::min<std::size_t>(std::max<std::size_t>(lp.max_requests, 2), 8);
  return std::make_unique<longpoll_transport>(std::move(t), options, std::move(lp));
}

}  // namespace xgate::channel
