#include "fault_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <optional>
#include <system_error>
#include <vector>

namespace xgate::channel::testing {

namespace {

[[noreturn]] void throw_errno(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

// The length of the first complete HTTP/1.1 message in buf: 0 when it is not complete yet,
// nullopt when this proxy cannot frame it (chunked, or a body that runs until close).
std::optional<std::size_t> http_message_size(std::string_view buf, bool request) {
  std::size_t end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) return buf.size() > (std::size_t{64} << 10) ? std::nullopt : std::optional<std::size_t>(0);
  std::string_view head = buf.substr(0, end + 2);
  std::size_t first = head.find("\r\n");
  std::string_view start = head.substr(0, first);
  std::optional<std::size_t> length;
  for (std::size_t pos = first + 2; pos < head.size();) {
    std::size_t eol = head.find("\r\n", pos);
    std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon), value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (iequals(name, "transfer-encoding")) return std::nullopt;
    if (iequals(name, "content-length")) {
      std::size_t v = 0;
      for (char ch : value) {
        if (ch < '0' || ch > '9') return std::nullopt;
        v = v * 10 + static_cast<std::size_t>(ch - '0');
      }
      length = v;
    }
  }
  if (!length) {
    if (request) {
      length = 0;
    } else {
      // Only these responses have no body without a length; others run until close.
      std::string_view status = start.size() >= 12 ? start.substr(9, 3) : std::string_view{};
      if (status.empty() || !(status[0] == '1' || status == "204" || status == "304")) return std::nullopt;
      length = 0;
    }
  }
  std::size_t total = end + 4 + *length;
  return buf.size() >= total ? total : 0;
}

}  // namespace

// splitmix64: small, fast, and the same sequence on every platform for a seed.
struct fault_proxy::rng {
  std::uint64_t state;
  rng(std::uint64_t seed, std::uint64_t connection, bool upstream)
      : state(seed * 0x9e3779b97f4a7c15ull ^ (connection << 1 | (upstream ? 1 : 0)) * 0xbf58476d1ce4e5b9ull) {}
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  bool chance(double p) { return p > 0 && static_cast<double>(next() >> 11) * 0x1.0p-53 < p; }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }
};

struct fault_proxy::connection {
  std::uint64_t number = 0;
  int client = -1, server = -1;
  std::thread up, down;
  std::atomic<int> running{2};  // pumps (and duplicate senders) still going
  std::mutex mutex;             // guards what follows
  std::vector<std::thread> extras;
  std::vector<int> extra_fds;
  bool killed = false;

  // Wakes both pumps; with rst the closes that follow send RST instead of a clean close.
  void kill(bool rst) {
    std::lock_guard lock(mutex);
    if (rst) {
      linger l{1, 0};
      ::setsockopt(client, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      ::setsockopt(server, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    ::shutdown(client, SHUT_RDWR);
    ::shutdown(server, SHUT_RDWR);
    for (int fd : extra_fds) ::shutdown(fd, SHUT_RDWR);
    killed = true;
  }
};

fault_proxy::fault_proxy(std::string target_host, unsigned short target_port, fault_options options)
    : target_host_(std::move(target_host)), target_port_(target_port), options_(options) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw_errno("fault_proxy: socket");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(listen_fd_, 128) < 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) < 0) {
    int e = errno;
    ::close(listen_fd_);
    throw std::system_error(e, std::generic_category(), "fault_proxy: listen");
  }
  port_ = ntohs(a.sin_port);
  if (::pipe2(wake_, O_CLOEXEC) < 0) {
    int e = errno;
    ::close(listen_fd_);
    throw std::system_error(e, std::generic_category(), "fault_proxy: pipe");
  }
  acceptor_ = std::thread([this] { accept_loop(); });
}

fault_proxy::~fault_proxy() { stop(); }

int fault_proxy::connect_target() const {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(target_port_);
  if (::inet_pton(AF_INET, target_host_.c_str(), &a.sin_addr) != 1 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
    ::close(fd);
    return -1;
  }
  set_nodelay(fd);
  return fd;
}

bool fault_proxy::take_fault() {
  if (!faults_on_) return false;
  // Counted before it happens, so that concurrent pumps never exceed the budget.
  std::size_t n = faults_.fetch_add(1);
  if (n < options_.max_faults) return true;
  faults_.fetch_sub(1);
  return false;
}

fault_counts fault_proxy::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

void fault_proxy::accept_loop() {
  std::uint64_t number = 0;
  while (!stopping_) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    int r = ::poll(p, 2, 200);
    reap(false);
    if (r <= 0 || (p[1].revents & POLLIN)) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    set_nodelay(client);
    int server = connect_target();
    if (server < 0) {
      ::close(client);  // the target is down: the client sees its connection closed
      continue;
    }
    auto c = std::make_shared<connection>();
    c->number = ++number;
    c->client = client;
    c->server = server;
    std::lock_guard lock(mutex_);
    ++counts_.connections;
    connections_.push_back(c);
    c->up = std::thread([this, c] { pump(*c, true); });
    c->down = std::thread([this, c] { pump(*c, false); });
  }
}

// Joins and closes connections whose threads have all finished (all of them when stopping).
void fault_proxy::reap(bool all) {
  std::vector<std::shared_ptr<connection>> done;
  {
    std::lock_guard lock(mutex_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      if (all || (*it)->running == 0) {
        done.push_back(*it);
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : done) {
    if (c->up.joinable()) c->up.join();
    if (c->down.joinable()) c->down.join();
    std::vector<std::thread> extras;
    {
      std::lock_guard lock(c->mutex);
      extras.swap(c->extras);
    }
    for (auto& t : extras) t.join();
    ::close(c->client);
    ::close(c->server);
  }
}

void fault_proxy::reset_all() {
  std::lock_guard lock(mutex_);
  for (auto& c : connections_) {
    c->kill(true);
    ++counts_.resets;
  }
}

void fault_proxy::hold(bool on) {
  {
    std::lock_guard lock(hold_mutex_);
    if (on && !holding_) held_ = 0;
    holding_ = on;
  }
  hold_changed_.notify_all();
}

bool fault_proxy::wait_while_held(connection& c) {
  std::unique_lock lock(hold_mutex_);
  if (!holding_) return true;
  ++held_;
  // Woken by hold(false) and stop(); a reset of this connection is noticed within 50 ms.
  while (holding_ && !stopping_) {
    {
      std::lock_guard cl(c.mutex);
      if (c.killed) return false;
    }
    hold_changed_.wait_for(lock, std::chrono::milliseconds(50));
  }
  return !stopping_;
}

void fault_proxy::pump(connection& c, bool upstream) {
  const int from = upstream ? c.client : c.server, to = upstream ? c.server : c.client;
  rng r(options_.seed, c.number, upstream);
  std::vector<char> buf(std::size_t{64} << 10);
  bool raw = !options_.http;  // raw: chunks as they come; else whole HTTP messages
  std::string pending;        // bytes of an HTTP message not complete yet

  auto count = [&](std::size_t fault_counts::*field) {
    std::lock_guard lock(mutex_);
    ++(counts_.*field);
  };
  // Writes data with the byte-stream faults; false when the connection is gone.
  auto forward = [&](std::string_view data) {
    if (data.empty()) return true;
    if (r.chance(options_.reset) && take_fault()) {
      count(&fault_counts::resets);
      send_all(to, data.substr(0, r.below(data.size())));
      c.kill(true);
      return false;
    }
    if (r.chance(options_.delay) && take_fault()) {
      count(&fault_counts::delays);
      std::this_thread::sleep_for(std::chrono::microseconds(r.below(static_cast<std::size_t>(options_.max_delay.count()) + 1)));
    }
    if (data.size() > 1 && r.chance(options_.split) && take_fault()) {
      count(&fault_counts::splits);
      std::size_t pieces = std::min<std::size_t>(2 + r.below(7), data.size());
      for (std::size_t i = 0; i < pieces; ++i) {
        std::size_t from_i = data.size() * i / pieces, to_i = data.size() * (i + 1) / pieces;
        if (!send_all(to, data.substr(from_i, to_i - from_i))) return false;
        std::this_thread::sleep_for(std::chrono::microseconds(r.below(300)));
      }
      return true;
    }
    return send_all(to, data);
  };

  bool clean_end = true;
  for (;;) {
    // Reads of random sizes, so the far side sees other boundaries than the sender wrote.
    std::size_t want = r.chance(0.5) ? buf.size() : 1 + r.below(buf.size());
    ssize_t n = ::recv(from, buf.data(), want, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      clean_end = n == 0;
      break;
    }
    if (upstream && !wait_while_held(c)) {
      clean_end = false;
      break;
    }
    std::string chunk(buf.data(), static_cast<std::size_t>(n));
    if (raw) {
      if (r.chance(options_.coalesce) && take_fault()) {
        count(&fault_counts::coalesces);
        pollfd p{from, POLLIN, 0};
        if (::poll(&p, 1, 2) > 0 && (p.revents & POLLIN)) {
          ssize_t m = ::recv(from, buf.data(), buf.size(), MSG_DONTWAIT);
          if (m > 0) chunk.append(buf.data(), static_cast<std::size_t>(m));
        }
      }
      if (!forward(chunk)) {
        clean_end = false;
        break;
      }
      continue;
    }
    pending += chunk;
    bool alive = true;
    while (alive && !raw && !pending.empty()) {
      auto size = http_message_size(pending, upstream);
      if (!size) {
        raw = true;  // cannot frame it: forward as is from here on
        break;
      }
      if (*size == 0) break;  // incomplete
      std::string message = pending.substr(0, *size);
      pending.erase(0, *size);
      if (upstream && r.chance(options_.duplicate_request) && take_fault()) {
        count(&fault_counts::duplicates);
        std::lock_guard lock(c.mutex);
        if (!c.killed) {
          ++c.running;
          c.extras.emplace_back([this, &c, message] { duplicate(c, message); });
        }
      }
      if (!upstream && r.chance(options_.drop_response) && take_fault()) {
        count(&fault_counts::dropped_responses);
        if (r.chance(0.5)) {
          c.kill(false);
          alive = false;
        }
        continue;
      }
      alive = forward(message);
    }
    if (alive && raw && !pending.empty()) {
      alive = forward(pending);
      pending.clear();
    }
    if (!alive) {
      clean_end = false;
      break;
    }
  }
  if (clean_end) {
    ::shutdown(to, SHUT_WR);  // pass the half-close on
  } else {
    c.kill(false);
  }
  --c.running;
}

// Sends a copy of a request on a connection of its own and reads its response away.
void fault_proxy::duplicate(connection& c, std::string request) {
  int fd = connect_target();
  if (fd >= 0) {
    {
      std::lock_guard lock(c.mutex);
      if (c.killed) ::shutdown(fd, SHUT_RDWR);
      c.extra_fds.push_back(fd);
    }
    if (send_all(fd, request)) {
      std::string response;
      std::vector<char> buf(std::size_t{64} << 10);
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (!stopping_ && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n <= 0) break;
        response.append(buf.data(), static_cast<std::size_t>(n));
        auto size = http_message_size(response, false);
        if (!size || *size > 0) break;  // the whole response (or one we cannot frame): enough
      }
    }
    std::lock_guard lock(c.mutex);
    c.extra_fds.erase(std::find(c.extra_fds.begin(), c.extra_fds.end(), fd));
    ::close(fd);
  }
  --c.running;
}

void fault_proxy::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  stopping_ = true;
  {
    std::lock_guard lock(hold_mutex_);  // a held pump checks stopping_ under it: no lost wake-up
  }
  hold_changed_.notify_all();
  char b = 1;
  [[maybe_unused]] ssize_t w = ::write(wake_[1], &b, 1);
  acceptor_.join();
  {
    std::lock_guard lock(mutex_);
    for (auto& c : connections_) c->kill(false);
  }
  reap(true);
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

}  // namespace xgate::channel::testing
