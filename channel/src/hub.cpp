// The hub's public API (hub.hpp) and the lookups its parts share; hub_impl.hpp lists the parts.
#include "hub_impl.hpp"
#include "random_hex.hpp"

#include <set>

#include <sodium.h>

namespace xgate::channel {

using namespace hub_detail;

hub::impl::impl(store::store& s, hub_options o) : store_(s), options(std::move(o)), verifier(s) {
  if (sodium_init() < 0) throw channel_error(channel_errc::protocol, "libsodium failed to initialize");
  instance = detail::random_hex(4);
  if (options.max_failed_logins) logins.emplace(options.max_failed_logins, options.failed_login_window);
  load();
}

link_options hub::impl::sender_options() const {
  // The hub's own limit is the queue limit (checked before pushing); the link's is a backstop.
  return link_options{options.max_queue_messages + 1024, options.max_queue_bytes + (std::size_t{64} << 20)};
}

void hub::impl::note(const std::string& line, log_level level) {
  if (options.log) options.log->write(level, "hub", line);
}

hub::impl::endpoint_state& hub::impl::state_of(const std::string& name) {
  auto it = endpoints.find(name);
  if (it == endpoints.end()) it = endpoints.emplace(name, std::make_unique<endpoint_state>(name, sender_options())).first;
  return *it->second;
}

std::string hub::impl::principal_of(const std::string& endpoint) {
  auto it = endpoints.find(endpoint);
  if (it != endpoints.end() && !it->second->principal.empty()) return it->second->principal;
  return endpoint.substr(0, endpoint.find('/'));
}

void hub::impl::stop() {
  {
    std::lock_guard lock(state_mutex);
    if (stopping) return;
    stopping = true;
    for (auto& c : connections) {
      if (c->closed) continue;
      c->closed = true;
      try {
        c->close();
      } catch (...) {
      }
    }
    for (auto& [n, s] : endpoints) {
      if (s->connection) withdraw(*s);  // committed below, before the committer stops
      s->connection.reset();
    }
    stats.online = 0;
  }
  housekeeper_wake.notify_all();
  if (housekeeper.joinable()) housekeeper.join();
  feed.request_stop();
  if (feed.joinable()) feed.join();
  {
    std::lock_guard lock(commit_mutex);
    committer_stopping = true;
  }
  commit_wake.notify_all();
  if (committer.joinable()) committer.join();
  std::lock_guard lock(state_mutex);
  connections.clear();
}

hub::hub(store::store& s, hub_options options) : impl_(std::make_shared<impl>(s, std::move(options))) {
  impl_->committer = std::thread([i = impl_.get()] { i->run_committer(); });
  impl_->housekeeper = std::thread([i = impl_.get()] { i->run_housekeeper(); });
  impl_->feed = std::jthread([i = impl_.get()](std::stop_token stop) { i->run_feed(stop); });
}

hub::~hub() { stop(); }

void hub::stop() { impl_->stop(); }

std::shared_ptr<hub_connection> hub::open(std::string peer, send_function send, close_function close) {
  auto c = std::make_shared<impl::conn>();
  c->owner = impl_;
  c->peer = std::move(peer);
  c->send = std::move(send);
  c->close = std::move(close);
  std::lock_guard lock(impl_->state_mutex);
  if (impl_->stopping) {
    c->closed = true;
    try {
      c->close();
    } catch (...) {
    }
    return c;
  }
  impl_->connections.insert(c);
  return c;
}

std::vector<std::string> hub::online() const {
  std::lock_guard lock(impl_->state_mutex);
  std::set<std::string> names(impl_->remote_online.begin(), impl_->remote_online.end());
  for (auto& [n, s] : impl_->endpoints)
    if (s->connection) names.insert(n);
  return {names.begin(), names.end()};
}

hub_stats hub::stats() const {
  std::lock_guard lock(impl_->state_mutex);
  hub_stats s = impl_->stats;
  s.connections = impl_->connections.size();
  return s;
}

const hub_options& hub::options() const noexcept { return impl_->options; }

}  // namespace xgate::channel
