// The HTTP long-poll transport (longpoll.hpp): the hub's HTTP endpoint and the endpoint's
// transport.
//
// Both sides use synchronous Beast on plain file descriptors with poll()-based deadlines,
// one thread per HTTP connection: a held request is simply a thread waiting on its
// session's condition variable, which keeps the hold/answer logic plain blocking code (the
// store's server makes the same choice for its long polls, server/src/http_server.cpp).
#include <xgate/channel/longpoll.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <unordered_map>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <sodium.h>

#include <xgate/channel/error.hpp>
#include <xgate/store/names.hpp>

namespace xgate::channel {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr const char* h_session = "X-Xgate-Session";
constexpr const char* h_seq = "X-Xgate-Seq";
constexpr const char* h_ack = "X-Xgate-Ack";
constexpr const char* h_seen = "X-Xgate-Seen";
constexpr const char* h_resend = "X-Xgate-Resend";
constexpr const char* h_wait = "X-Xgate-Wait";
constexpr const char* h_close = "X-Xgate-Close";
constexpr const char* h_closed = "X-Xgate-Closed";
constexpr const char* h_response = "X-Xgate-Response";
constexpr const char* h_error = "X-Xgate-Error";
constexpr const char* bundle_type = "application/x-xgate-bundle";

[[noreturn]] void bad_url(std::string_view what, std::string_view url, std::string_view why) {
  throw channel_error(channel_errc::protocol, std::string(what) + " \"" + store::printable(url) + "\": " + std::string(why));
}

std::uint64_t header_number(const http::fields& f, const char* name) {
  auto it = f.find(name);
  if (it == f.end()) return 0;
  std::string_view v(it->value().data(), it->value().size());
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size()) throw channel_error(channel_errc::protocol, std::string("header ") + name + ": not a number");
  return n;
}

bool header_flag(const http::fields& f, const char* name) {
  auto it = f.find(name);
  return it != f.end() && it->value() == "1";
}

std::string_view header_text(const http::fields& f, const char* name) {
  auto it = f.find(name);
  if (it == f.end()) return {};
  return {it->value().data(), it->value().size()};
}

// A blocking socket with a deadline, as Beast's SyncReadStream / SyncWriteStream: poll()
// decides whether a read or write could wait past the deadline.
class fd_stream {
 public:
  explicit fd_stream(int fd) : fd_(fd) {}
  void deadline(clock_type::time_point t) { deadline_ = t; }

  template <class Buffers>
  std::size_t read_some(const Buffers& buffers, error_code& ec) {
    ec = {};
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
  clock_type::time_point deadline_ = clock_type::time_point::max();
};

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

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
bool accept_bundle(std::uint64_t first, std::vector<frame>& frames, std::uint64_t& received, std::vector<frame>& out) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    std::uint64_t seq = first + i;
    if (seq <= received) continue;
    if (seq != received + 1) return false;
    out.push_back(std::move(frames[i]));
    received = seq;
  }
  return true;
}

std::string random_session_id() {
  if (sodium_init() < 0) throw channel_error(channel_errc::protocol, "libsodium failed to initialize");
  unsigned char b[16];
  randombytes_buf(b, sizeof b);
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

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

}  // namespace

// ======================================================================================
// The hub's side
// ======================================================================================

namespace {

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

  mutable std::mutex mutex;  // guards what follows
  std::condition_variable changed;
  std::unordered_map<std::string, std::shared_ptr<session>> sessions;
  std::unordered_map<std::uint64_t, int> open;  // connection id -> fd
  std::uint64_t next_connection = 0;

  impl(hub& hub_, longpoll_server_options o) : h(hub_), options(std::move(o)) {}

  void start() {
    std::lock_guard lock(mutex);
    if (started) throw std::logic_error("longpoll_hub_server::start called twice");
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
    fd_stream stream(fd);
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
      frames = decode_bundle(req.body(), h.options().max_frame);
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
    s->id = random_session_id();
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
std::string longpoll_hub_server::url() const {
  const std::string& a = impl_->options.address;
  return "http://" + (a.find(':') != std::string::npos ? "[" + a + "]" : a) + ":" + std::to_string(port());
}
std::size_t longpoll_hub_server::sessions() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->sessions.size();
}
void longpoll_hub_server::stop() { impl_->stop(); }

// ======================================================================================
// The endpoint's side
// ======================================================================================

namespace {

struct http_address {
  std::string host;  // without brackets
  unsigned short port = 80;
  std::string path;  // "/..." ("" when none was given)
  std::string authority() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
};

http_address parse_http(std::string_view what, std::string_view url) {
  std::string_view rest = url;
  if (!rest.starts_with("http://")) bad_url(what, url, "expected http://HOST:PORT");
  rest.remove_prefix(7);
  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  http_address a;
  a.path = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  std::string_view port;
  if (authority.starts_with("[")) {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) bad_url(what, url, "unclosed [");
    a.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (authority.starts_with(":")) port = authority.substr(1);
    else if (!authority.empty()) bad_url(what, url, "bad address");
  } else {
    std::size_t colon = authority.rfind(':');
    a.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (a.host.empty()) bad_url(what, url, "no host");
  if (!port.empty()) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || p != port.data() + port.size() || v == 0 || v > 65535) bad_url(what, url, "bad port");
    a.port = static_cast<unsigned short>(v);
  }
  return a;
}

// Whether no_proxy names host: "*", the host itself, or a domain suffix (".example.org" or "example.org").
bool no_proxy_for(const std::string& host) {
  const char* np = std::getenv("no_proxy");
  if (!np) np = std::getenv("NO_PROXY");
  if (!np) return false;
  std::string_view list(np);
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    if (item == "*") return true;
    if (std::size_t c = item.rfind(':'); c != std::string_view::npos && item.find(']') == std::string_view::npos &&
                                         item.find(':') == c)
      item = item.substr(0, c);  // host:port: the port is not compared
    if (item.starts_with(".")) item.remove_prefix(1);
    if (host == item || (host.size() > item.size() && host.ends_with(item) && host[host.size() - item.size() - 1] == '.'))
      return true;
  }
  return false;
}

// Connects within timeout; -1 on failure (errno-like reason in why).
int connect_to(const http_address& a, milliseconds timeout, std::string& why) {
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

struct target {
  http_address hub;                    // where the sessions are
  std::optional<http_address> proxy;   // requests go here, with absolute URIs
  std::string request_target() const {
    return proxy ? "http://" + hub.authority() + hub.path : hub.path;
  }
  const http_address& peer() const { return proxy ? *proxy : hub; }
};

struct round_trip_result {
  bool ok = false;              // a response came
  unsigned status = 0;
  http::response<http::string_body> response;
  std::string why;              // when !ok
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
      std::lock_guard lock(owner);
      if (closing) {
        ::close(fd);
        r.why = "closed";
        return r;
      }
      fd_ = fd;
      buffer_.clear();
    }
    fd_stream s(fd_);
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
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
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
    return "http://" + target_.hub.authority() + target_.hub.path + (target_.proxy ? " via proxy http://" + target_.proxy->authority() : "");
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
  std::string description() const override { return "http://" + target_.hub.authority() + target_.hub.path; }

 private:
  target target_;
  transport_options options_;
  longpoll_options lp_;
};

}  // namespace

std::unique_ptr<transport> make_http_transport(std::string_view url, const transport_options& options, longpoll_options lp) {
  target t;
  t.hub = parse_http("hub URL", url);
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
