// The hub's side of the HTTP long-poll transport (longpoll.hpp): an HTTP/1.1 server whose
// sessions are hub connections; a request is held until the session has frames for the
// endpoint. The wire is in longpoll_wire.hpp.
#include <xgate/channel/longpoll.hpp>

#include <arpa/inet.h>
#include <fcntl.h>

#include <atomic>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <unordered_map>

#include <boost/beast/core/flat_buffer.hpp>

#include <xgate/channel/error.hpp>
#include <xgate/tls/context.hpp>

#include "longpoll_wire.hpp"
#include "random_hex.hpp"

namespace xgate::channel {

namespace beast = boost::beast;
using namespace longpoll_wire;

namespace {

// A listening socket on address:port (IPv4 or IPv6 literal).
int listen_on(const std::string& address, unsigned short port, unsigned short& bound) {
  sockaddr_storage ss{};
  socklen_t len;
  int family;
  if (auto* a4 = reinterpret_cast<sockaddr_in*>(&ss); ::inet_pton(AF_INET, address.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = family = AF_INET;
    a4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
  } else if (auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss); ::inet_pton(AF_INET6, address.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = family = AF_INET6;
    a6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
  } else {
    throw std::system_error(std::make_error_code(std::errc::invalid_argument), "long-poll hub: address \"" + address + "\"");
  }
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "long-poll hub: socket");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0 || ::listen(fd, 512) < 0) {
    int e = errno;
    ::close(fd);
    throw std::system_error(e, std::generic_category(), "long-poll hub: listen on " + address + ":" + std::to_string(port));
  }
  len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  bound = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return fd;
}

std::string peer_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return "-";
  char host[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
  }
  auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
  ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
  return "[" + std::string(host) + "]:" + std::to_string(ntohs(a->sin6_port));
}

struct session {
  std::string id;
  std::shared_ptr<hub_connection> conn;

  std::mutex deliver;  // held while a request hands its frames to the hub, so that two
                       // requests of the session deliver in seq order

  std::mutex m;  // guards what follows; never held while calling into the hub
  std::condition_variable cv;
  frame_window out;
  std::uint64_t received = 0;            // the endpoint's frames taken in order
  std::uint64_t responses = 0;           // responses numbered so far
  std::uint64_t frontier_max = 0;        // the highest seq any response carried
  std::deque<std::uint64_t> frontier;    // frontier_max after response number frontier_base + i
  std::uint64_t frontier_base = 1;
  std::uint64_t generation = 0;          // bumped by each request: an older held one answers
  bool closed = false;                   // the hub closed it: answer, then end
  bool ended = false;                    // gone from the table
  int active = 0;                        // requests being served
  clock_type::time_point last_request = clock_type::now();

  // Whether the endpoint has lost frames we sent: it saw response `seen` but acknowledges
  // less than that response's frontier (an earlier response was lost, or a gap refused).
  bool lost_frames(std::uint64_t seen, std::uint64_t ack) const {
    if (seen == 0) return false;
    if (seen < frontier_base) return ack < frontier_max;  // too old to tell: assume so if anything is out
    std::uint64_t i = seen - frontier_base;
    if (i >= frontier.size()) return false;  // a response number we never gave: ignore
    return ack < frontier[i];
  }
  void record_response() {
    ++responses;
    frontier.push_back(frontier_max);
    while (frontier.size() > 64) {
      frontier.pop_front();
      ++frontier_base;
    }
  }
};

}  // namespace

struct longpoll_hub_server::impl : std::enable_shared_from_this<impl> {
  hub& h;
  longpoll_server_options options;
  int listen_fd = -1;
  int wake[2] = {-1, -1};
  std::atomic<unsigned short> bound_port{0};
  std::thread acceptor, housekeeper;
  std::atomic<bool> stopping{false};
  bool started = false;
  std::optional<xgate::tls::server_contexts> tls;  // options.tls

  mutable std::mutex mutex;  // guards what follows
  std::condition_variable changed;
  std::unordered_map<std::string, std::shared_ptr<session>> sessions;
  std::unordered_map<std::uint64_t, int> open;  // connection id -> fd
  std::uint64_t next_connection = 0;

  impl(hub& hub_, longpoll_server_options o) : h(hub_), options(std::move(o)) {}

  void start() {
    std::lock_guard lock(mutex);
    if (started) throw std::logic_error("longpoll_hub_server::start called twice");
    if (!options.tls.certificate.empty()) {
      tls.emplace(options.tls, [](boost::asio::ssl::context& c) {
        SSL_CTX_set_options(c.native_handle(), SSL_OP_IGNORE_UNEXPECTED_EOF);  // endpoints close without close_notify
      });
    }
    unsigned short port = 0;
    listen_fd = listen_on(options.address, options.port, port);
    if (::pipe2(wake, O_CLOEXEC) < 0) {
      ::close(listen_fd);
      throw std::system_error(errno, std::generic_category(), "long-poll hub: pipe");
    }
    bound_port = port;
    started = true;
    auto self = shared_from_this();
    acceptor = std::thread([self] { self->accept_loop(); });
    housekeeper = std::thread([self] { self->housekeeping(); });
  }

  void accept_loop() {
    while (!stopping) {
      pollfd p[2] = {{listen_fd, POLLIN, 0}, {wake[0], POLLIN, 0}};
      if (::poll(p, 2, -1) <= 0 || (p[1].revents & POLLIN)) continue;
      {
        // At max_connections stop accepting until one closes (the backlog holds the rest).
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return stopping || open.size() < options.max_connections; });
        if (stopping) break;
      }
      int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(milliseconds(10));
        continue;
      }
      set_nodelay(fd);
      std::lock_guard lock(mutex);
      std::uint64_t id = next_connection++;
      open.emplace(id, fd);
      try {
        std::thread([self = shared_from_this(), id, fd] { self->connection(id, fd); }).detach();
      } catch (const std::system_error&) {
        open.erase(id);
        ::close(fd);
      }
    }
  }

  void connection(std::uint64_t id, int fd) {
    try {
      serve(fd);
    } catch (const std::exception&) {
      // A failure of one connection (e.g. out of memory for a body) ends only it.
    }
    std::lock_guard lock(mutex);
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);  // under the lock: stop() never shuts down a reused fd number
    open.erase(id);
    changed.notify_all();
  }

  void serve(int fd) {
    ssl_ptr ssl;
    if (tls) {
      set_nonblocking(fd);
      ssl.reset(SSL_new(tls->current()->native_handle()));
      if (!ssl || !xgate::tls::attach_socket(ssl.get(), fd)) return;
      fd_stream hs(fd, ssl.get());
      hs.deadline(clock_type::now() + milliseconds(10000));  // a silent client holds its thread this long at most
      error_code ec;
      hs.handshake(false, ec);
      if (ec) return;
    }
    fd_stream stream(fd, ssl.get());
    beast::flat_buffer buffer;
    std::string peer = peer_of(fd);
    while (!stopping) {
      // Between requests a connection may idle as long as a session may.
      stream.deadline(clock_type::now() + options.session_timeout + milliseconds(5000));
      http::request_parser<http::string_body> parser;
      parser.body_limit(options.max_request);
      parser.header_limit(64 * 1024);
      error_code ec;
      http::read(stream, buffer, parser, ec);
      if (ec == http::error::body_limit) {
        http::response<http::string_body> res{http::status::payload_too_large, 11};
        res.set(h_error, "request body beyond " + std::to_string(options.max_request) + " bytes");
        res.keep_alive(false);
        res.prepare_payload();
        stream.deadline(clock_type::now() + milliseconds(5000));
        http::write(stream, res, ec);
        return;
      }
      if (ec) return;
      auto req = parser.release();
      http::response<http::string_body> res = handle(req, peer);
      res.version(11);
      res.keep_alive(req.keep_alive() && !stopping);
      res.set(http::field::cache_control, "no-store");
      res.prepare_payload();
      stream.deadline(clock_type::now() + milliseconds(30000));
      http::write(stream, res, ec);
      if (ec || !res.keep_alive()) return;
    }
  }

  static http::response<http::string_body> plain(http::status status, std::string text) {
    http::response<http::string_body> res{status, 11};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.set(h_error, text);
    res.body() = std::move(text) + "\n";
    return res;
  }

  http::response<http::string_body> handle(http::request<http::string_body>& req, const std::string& peer) {
    std::string_view target(req.target().data(), req.target().size());
    if (target.starts_with("http://")) {  // absolute-form, as a proxy might pass it on
      std::size_t slash = target.find('/', 7);
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
    if (std::size_t q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    if (target != options.path) return plain(http::status::not_found, "no such path (the hub serves " + options.path + ")");
    if (req.method() != http::verb::post) {
      auto res = plain(http::status::method_not_allowed, "POST bundles of frames here");
      res.set(http::field::allow, "POST");
      return res;
    }
    std::uint64_t seq, ack, seen, wait_ms;
    try {
      seq = header_number(req, h_seq);
      ack = header_number(req, h_ack);
      seen = header_number(req, h_seen);
      wait_ms = req.count(h_wait) ? header_number(req, h_wait) : static_cast<std::uint64_t>(options.max_hold.count());
    } catch (const channel_error& e) {
      return plain(http::status::bad_request, e.detail());
    }

    std::shared_ptr<session> s;
    std::string_view id = header_text(req, h_session);
    if (id.empty()) {
      s = open_session(peer);
      if (!s) return plain(http::status::service_unavailable, "the hub is stopping");
    } else {
      std::lock_guard lock(mutex);
      auto it = sessions.find(std::string(id));
      if (it == sessions.end()) return plain(http::status::not_found, "unknown session (the hub restarted or closed it)");
      s = it->second;
    }

    if (header_flag(req, h_close)) {
      end_session(s);
      http::response<http::string_body> res{http::status::ok, 11};
      res.set(h_session, s->id);
      res.set(h_closed, "1");
      return res;
    }

    std::vector<frame> frames;
    try {
      const hub_options& o = h.options();
      frames = decode_bundle(req.body(), s->conn->endpoint().empty() ? o.max_frame_before_login : o.max_frame);
    } catch (const channel_error& e) {
      s->conn->on_bad_input(e);  // logs, sends error and closes: the endpoint sees that
      end_session(s);
      return plain(http::status::bad_request, e.what());
    }

    std::uint64_t generation;
    std::string bad_ack;
    {
      std::lock_guard deliver(s->deliver);
      std::vector<frame> accepted;
      {
        std::lock_guard lock(s->m);
        if (s->ended) return plain(http::status::not_found, "unknown session (the hub closed it)");
        if (!s->out.on_ack(ack)) {
          // Not our bug to absorb: an endpoint acknowledging frames it was never sent.
          bad_ack = "acknowledgement of frame " + std::to_string(ack) + ", beyond the last sent " + std::to_string(s->out.last());
        } else if (header_flag(req, h_resend) || s->lost_frames(seen, ack)) {
          s->out.rewind();
        }
      }
      if (!bad_ack.empty()) {
        s->conn->on_bad_input(channel_error(channel_errc::bad_ack, "long-poll session: " + bad_ack));
        end_session(s);
        return plain(http::status::bad_request, bad_ack);
      }
      {
        std::lock_guard lock(s->m);
        if (!frames.empty()) accept_bundle(seq, frames, s->received, accepted);
        generation = ++s->generation;
        s->last_request = clock_type::now();
        ++s->active;
        s->cv.notify_all();  // an older held request answers now
      }
      for (auto& f : accepted) s->conn->on_frame(std::move(f));
    }
    return respond(s, generation, milliseconds(std::min<std::uint64_t>(wait_ms, options.max_hold.count())));
  }

  // Holds the request until there is something to send, a newer request came, the session
  // closed, or the wait passed; then answers with what is pending.
  http::response<http::string_body> respond(const std::shared_ptr<session>& s, std::uint64_t generation, milliseconds wait) {
    http::response<http::string_body> res{http::status::ok, 11};
    bool end = false;
    {
      std::unique_lock lock(s->m);
      s->cv.wait_until(lock, clock_type::now() + wait, [&] {
        return s->out.has_pending() || s->generation != generation || s->closed || s->ended || stopping;
      });
      std::uint64_t first = 0, last = 0;
      res.body() = s->out.take(options.bundle_frames, options.bundle_bytes, first, last);
      s->frontier_max = std::max(s->frontier_max, last);
      s->record_response();
      res.set(h_session, s->id);
      res.set(h_seq, std::to_string(first));
      res.set(h_ack, std::to_string(s->received));
      res.set(h_response, std::to_string(s->responses));
      res.set(http::field::content_type, bundle_type);
      if ((s->closed && !s->out.has_pending()) || s->ended) {
        res.set(h_closed, "1");
        end = true;
      }
      --s->active;
      s->last_request = clock_type::now();
    }
    if (end) end_session(s);
    return res;
  }

  std::shared_ptr<session> open_session(const std::string& peer) {
    auto s = std::make_shared<session>();
    s->id = detail::random_hex(16);
    std::weak_ptr<session> weak = s;
    auto send = [weak](std::vector<frame> frames) {
      auto s = weak.lock();
      if (!s) return;
      std::lock_guard lock(s->m);
      if (s->ended) return;
      for (const frame& f : frames) s->out.push(f, std::numeric_limits<std::uint32_t>::max());
      s->cv.notify_all();
    };
    auto close = [weak] {
      auto s = weak.lock();
      if (!s) return;
      std::lock_guard lock(s->m);
      s->closed = true;
      s->cv.notify_all();
    };
    s->conn = h.open("http " + peer + " session " + s->id.substr(0, 8), send, close);
    {
      std::lock_guard lock(mutex);
      if (!stopping) {
        sessions.emplace(s->id, s);
        return s;
      }
    }
    s->conn->on_closed();
    return nullptr;
  }

  void end_session(const std::shared_ptr<session>& s) {
    {
      std::lock_guard lock(mutex);
      sessions.erase(s->id);
    }
    {
      std::lock_guard lock(s->m);
      if (s->ended) return;
      s->ended = true;
      s->cv.notify_all();
    }
    s->conn->on_closed();
  }

  void housekeeping() {
    std::unique_lock lock(mutex);
    while (!stopping) {
      changed.wait_for(lock, milliseconds(500));
      std::vector<std::shared_ptr<session>> idle;
      auto now = clock_type::now();
      for (auto& [id, s] : sessions) {
        std::lock_guard sl(s->m);
        if (s->active == 0 && now - s->last_request > options.session_timeout) idle.push_back(s);
      }
      lock.unlock();
      for (auto& s : idle) end_session(s);
      lock.lock();
    }
  }

  void stop() {
    {
      std::lock_guard lock(mutex);
      if (!started || stopping) return;
      stopping = true;
      changed.notify_all();
      for (auto& [id, s] : sessions) {
        std::lock_guard sl(s->m);
        s->cv.notify_all();
      }
    }
    char b = 1;
    [[maybe_unused]] ssize_t w = ::write(wake[1], &b, 1);
    acceptor.join();
    housekeeper.join();
    {
      // Held requests answer (stopping), then their connections end.
      std::unique_lock lock(mutex);
      for (auto& [id, fd] : open) ::shutdown(fd, SHUT_RDWR);
      changed.wait(lock, [&] { return open.empty(); });
    }
    std::vector<std::shared_ptr<session>> all;
    {
      std::lock_guard lock(mutex);
      for (auto& [id, s] : sessions) all.push_back(s);
    }
    for (auto& s : all) end_session(s);
    ::close(listen_fd);
    ::close(wake[0]);
    ::close(wake[1]);
  }
};

longpoll_hub_server::longpoll_hub_server(hub& h, longpoll_server_options options)
    : impl_(std::make_shared<impl>(h, std::move(options))) {}
longpoll_hub_server::~longpoll_hub_server() { stop(); }
void longpoll_hub_server::start() { impl_->start(); }
unsigned short longpoll_hub_server::port() const noexcept { return impl_->bound_port; }
void longpoll_hub_server::reload_tls() {
  if (impl_->tls) impl_->tls->reload();
}

std::string longpoll_hub_server::url() const {
  const std::string& a = impl_->options.address;
  return (impl_->tls ? "https://" : "http://") + (a.find(':') != std::string::npos ? "[" + a + "]" : a) + ":" +
         std::to_string(port());
}
std::size_t longpoll_hub_server::sessions() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->sessions.size();
}
void longpoll_hub_server::stop() { impl_->stop(); }

}  // namespace xgate::channel
