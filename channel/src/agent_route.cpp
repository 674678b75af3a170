// Route ends (agent.hpp): the router of one endpoint and its routes.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <iterator>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include <xgate/channel/agent.hpp>
#include <xgate/base/text.hpp>

#include "agent_wire.hpp"

namespace xgate::channel {

namespace w = route_wire;

namespace {
using steady = std::chrono::steady_clock;

std::string join_path(const std::vector<std::string>& path) {
  std::string s;
  for (auto& n : path) s += (s.empty() ? "" : " > ") + n;
  return s;
}
}  // namespace

struct router::impl : std::enable_shared_from_this<router::impl> {
  route_options opt;
  std::shared_mutex bind_mu;  // held shared while sending through ep; unique to unbind
  endpoint* ep = nullptr;

  std::mutex mu;  // everything below and every route's state
  std::condition_variable cv;
  std::map<std::string, std::shared_ptr<route::shared>> routes;
  std::deque<std::shared_ptr<route>> incoming;
  std::map<std::string, std::optional<w::hops_reply_body>> hops_pending;
  bool stopping = false;
  std::thread watch;
  std::vector<std::string> last_online;  // the watch thread's: who left since the last look

  std::string self() {
    std::shared_lock lock(bind_mu);
    return ep ? ep->name() : std::string();
  }

  // Sends through the bound endpoint; false when unbound or refused (the route's watch
  // notices a hop that stays unreachable).
  bool send(const std::string& to, const char* kind, std::string body, const std::string& route) {
    std::shared_lock lock(bind_mu);
    if (!ep) return false;
    try {
      ep->send(to, kind, std::move(body), route);
      return true;
    } catch (const channel_error&) {
      return false;
    }
  }

  void on_message(envelope e);
  void run_watch();
};

struct route::shared {
  std::shared_ptr<router::impl> core;
  std::string id;
  std::vector<std::string> path;  // this end first
  std::string adjacent;           // the hop next to this end: path[1]
  std::mutex send_mu;             // a route seq goes on the wire in the order it was drawn

  // Under core->mu:
  bool open = false;   // the far end accepted
  bool ended = false;  // broken or closed
  bool closed = false;
  std::string hop, reason;
  std::uint64_t next_seq = 1, confirmed = 0, received = 0, ack_sent = 0;
  std::deque<route_message> inbox;
  std::optional<steady::time_point> unreachable_since;

  void end_locked(std::string at, std::string why, bool by_close = false) {
    if (ended) return;
    ended = true;
    closed = by_close;
    hop = std::move(at);
    reason = std::move(why);
    core->cv.notify_all();
  }

  channel_error error_locked() const {
    std::string text = "route " + id + " " + join_path(path) + (closed ? " was closed at " : " is broken at hop ") + hop + ": " + reason;
    std::uint64_t sent = next_seq - 1;
    if (sent > confirmed)
      text += "; " + std::to_string(sent - confirmed) + " of " + std::to_string(sent) + " messages sent were not confirmed by " +
              path.back() + " (seq " + std::to_string(confirmed + 1) + ".." + std::to_string(sent) + ")";
    else if (sent > 0)
      text += "; all " + std::to_string(sent) + " messages sent were confirmed by " + path.back();
    return channel_error(channel_errc::route_broken, text);
  }
};

// ---- incoming route messages (the endpoint's I/O thread) ----------------------------------

void router::impl::on_message(envelope e) {
  struct reply {
    std::string to;
    const char* kind;
    std::string body;
    std::string route;
  };
  std::vector<reply> out;
  const std::string me = self();
  {
    std::lock_guard lock(mu);
    if (stopping) return;
    try {
      if (e.kind == w::open_kind) {
        auto b = w::decode<w::open_body>(e.body);
        std::vector<std::string> full{b.origin};
        full.insert(full.end(), b.path.begin(), b.path.end());
        auto refuse = [&](std::string reason) {
          out.push_back({e.from, w::broken_kind, w::encode(w::broken_body{me, std::move(reason)}), e.correlation});
        };
        if (e.correlation.empty() || routes.contains(e.correlation)) return;
        if (b.path.empty() || b.path.back() != me) {
          refuse(me + " is a route end, not a relay");
        } else if (e.from != full[full.size() - 2]) {
          refuse("route.open came from " + e.from + ", but the hop before " + me + " is " + full[full.size() - 2]);
        } else {
          std::reverse(full.begin(), full.end());
          auto s = std::make_shared<route::shared>();
          s->core = shared_from_this();
          s->id = e.correlation;
          s->path = full;
          s->adjacent = e.from;
          s->open = true;
          routes[s->id] = s;
          incoming.push_back(std::shared_ptr<route>(new route(s, s->id, s->path)));
          cv.notify_all();
          out.push_back({e.from, w::ok_kind, w::encode(w::ack_body{0}), e.correlation});
        }
      } else if (e.kind == w::hops_kind) {
        out.push_back({e.from, w::hops_reply_kind,
                       w::encode(w::hops_reply_body{me, {}, me + " is a route end, not a relay"}), e.correlation});
      } else if (e.kind == w::hops_reply_kind) {
        auto it = hops_pending.find(e.correlation);
        if (it != hops_pending.end()) {
          it->second = w::decode<w::hops_reply_body>(e.body);
          cv.notify_all();
        }
      } else {
        auto it = routes.find(e.correlation);
        if (it == routes.end() || e.from != it->second->adjacent) return;  // not ours, or forgotten
        route::shared& r = *it->second;
        if (e.kind == w::ok_kind) {
          r.open = true;
          cv.notify_all();
        } else if (e.kind == w::data_kind) {
          if (r.ended) return;
          auto d = w::decode<w::data_body>(e.body);
          if (d.seq <= r.received) return;  // had it: exactly once
          if (d.seq != r.received + 1) {
            // A hop lost a message: delivering the rest would break the order.
            std::string why = "message seq " + std::to_string(r.received + 1) + " from " + r.path.back() +
                              " was lost on the way (seq " + std::to_string(d.seq) + " arrived instead)";
            out.push_back({r.adjacent, w::broken_kind, w::encode(w::broken_body{r.adjacent, why}), r.id});
            r.end_locked(r.adjacent, why);
            return;
          }
          r.received = d.seq;
          r.inbox.push_back(route_message{d.seq, std::move(d.kind), std::move(d.body), std::move(d.ref)});
          if (r.received - r.ack_sent >= opt.ack_every) {
            r.ack_sent = r.received;
            out.push_back({r.adjacent, w::ack_kind, w::encode(w::ack_body{r.received}), r.id});
          }
          cv.notify_all();
        } else if (e.kind == w::ack_kind) {
          auto a = w::decode<w::ack_body>(e.body);
          if (a.seq > r.confirmed && a.seq < r.next_seq) {
            r.confirmed = a.seq;
            cv.notify_all();
          }
        } else if (e.kind == w::broken_kind || e.kind == w::close_kind) {
          auto b = w::decode<w::broken_body>(e.body);
          r.end_locked(b.hop, b.reason, e.kind == w::close_kind);
        }
      }
    } catch (const std::exception&) {
      return;  // a body that is not what its kind says: dropped, like any refused body
    }
  }
  for (auto& o : out) send(o.to, o.kind, std::move(o.body), o.route);
}

// ---- the watch thread: acknowledgements and the adjacent hop -------------------------------

void router::impl::run_watch() {
  std::unique_lock lock(mu);
  while (!stopping) {
    cv.wait_for(lock, opt.ack_delay);
    if (stopping) return;
    std::vector<std::pair<std::shared_ptr<route::shared>, std::uint64_t>> acks;
    std::vector<std::shared_ptr<route::shared>> watched;
    for (auto& [id, r] : routes) {
      if (r->ended) continue;
      watched.push_back(r);
      if (r->received > r->ack_sent) {
        r->ack_sent = r->received;
        acks.emplace_back(r, r->received);
      }
    }
    lock.unlock();
    // Presence, read without the router's lock (the endpoint has its own).
    bool connected = false;
    std::vector<std::string> online;
    std::string me, last_error;
    {
      std::shared_lock b(bind_mu);
      if (ep) {
        connected = ep->state() == endpoint_state::connected;
        online = ep->online();
        me = ep->name();
        last_error = ep->last_error();
        // A peer that left may come back as a new process with a fresh inbox (endpoint.hpp).
        std::vector<std::string> left;
        std::set_difference(last_online.begin(), last_online.end(), online.begin(), online.end(), std::back_inserter(left));
        for (auto& n : left) ep->restart_stream(n);
        if (connected) last_online = online;
      }
    }
    for (auto& [r, seq] : acks) send(r->adjacent, w::ack_kind, w::encode(w::ack_body{seq}), r->id);
    lock.lock();
    // Ended routes with nothing left to read are forgotten: a long-lived endpoint opens and
    // accepts many (late messages for one are dropped like any for an unknown route).
    std::erase_if(routes, [](const auto& kv) { return kv.second->ended && kv.second->inbox.empty(); });
    auto now = steady::now();
    for (auto& r : watched) {
      if (r->ended) continue;
      if (connected && std::binary_search(online.begin(), online.end(), r->adjacent)) {
        r->unreachable_since.reset();
        continue;
      }
      if (!r->unreachable_since) r->unreachable_since = now;
      if (now - *r->unreachable_since >= opt.hop_timeout)
        r->end_locked(r->adjacent, connected ? r->adjacent + " went offline on " + me + "'s hub"
                                             : me + " lost its connection to its hub" +
                                                   (last_error.empty() ? std::string() : " (" + last_error + ")"));
    }
  }
}

// ---- router ---------------------------------------------------------------------------------

router::router(route_options options) : impl_(std::make_shared<impl>()) { impl_->opt = options; }

router::~router() { unbind(); }

std::function<void(envelope)> router::on_message(std::function<void(envelope)> rest) {
  return [core = impl_, rest = std::move(rest)](envelope e) {
    if (e.kind.starts_with("route."))
      core->on_message(std::move(e));
    else if (rest)
      rest(std::move(e));
  };
}

void router::bind(endpoint& e) {
  {
    std::unique_lock b(impl_->bind_mu);
    impl_->ep = &e;
  }
  std::lock_guard lock(impl_->mu);
  impl_->stopping = false;
  if (!impl_->watch.joinable()) impl_->watch = std::thread([core = impl_.get()] { core->run_watch(); });
}

void router::unbind() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    for (auto& [id, r] : impl_->routes) r->end_locked(r->path.front(), "the router of " + r->path.front() + " was unbound");
    impl_->cv.notify_all();
  }
  if (impl_->watch.joinable()) impl_->watch.join();
  {
    // Routes hold their router's state: forgetting them here breaks that cycle.
    std::lock_guard lock(impl_->mu);
    impl_->routes.clear();
    impl_->incoming.clear();
  }
  std::unique_lock b(impl_->bind_mu);
  impl_->ep = nullptr;
}

std::shared_ptr<route> router::open(std::vector<std::string> path, std::chrono::milliseconds timeout) {
  const std::string me = impl_->self();
  if (me.empty()) throw channel_error(channel_errc::protocol, "route: the router is not bound to an endpoint");
  if (path.empty()) throw channel_error(channel_errc::bad_envelope, "route from " + me + ": an empty path");
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (!is_valid_endpoint(path[i]))
      throw channel_error(channel_errc::bad_envelope, "route from " + me + ": hop \"" + xgate::printable(path[i]) + "\" is not a valid name");
    if (path[i] == me || std::find(path.begin(), path.begin() + static_cast<std::ptrdiff_t>(i), path[i]) != path.begin() + static_cast<std::ptrdiff_t>(i))
      throw channel_error(channel_errc::bad_envelope, "route from " + me + ": " + path[i] + " appears twice on the path");
  }
  auto s = std::make_shared<route::shared>();
  s->core = impl_;
  s->id = new_stream();
  s->path = {me};
  s->path.insert(s->path.end(), path.begin(), path.end());
  s->adjacent = path.front();
  {
    std::lock_guard lock(impl_->mu);
    impl_->routes[s->id] = s;
  }
  if (!impl_->send(s->adjacent, w::open_kind, w::encode(w::open_body{me, path}), s->id)) {
    std::lock_guard lock(impl_->mu);
    impl_->routes.erase(s->id);
    throw channel_error(channel_errc::route_broken, "route " + join_path(s->path) + ": " + me + " could not send route.open to " + s->adjacent);
  }
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait_for(lock, timeout, [&] { return s->open || s->ended; });
  if (s->ended) {
    impl_->routes.erase(s->id);
    throw s->error_locked();
  }
  if (!s->open) {
    // Tell the hops that did pass it on to forget it.
    s->end_locked(me, "no answer from the route within " + std::to_string(timeout.count()) + " ms", true);
    impl_->routes.erase(s->id);
    lock.unlock();
    impl_->send(s->adjacent, w::close_kind, w::encode(w::broken_body{me, "gave up opening the route"}), s->id);
    throw channel_error(channel_errc::timeout, "route " + s->id + " " + join_path(s->path) + ": no route.ok within " +
                                                   std::to_string(timeout.count()) + " ms");
  }
  return std::shared_ptr<route>(new route(s, s->id, s->path));
}

std::shared_ptr<route> router::accept(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  if (!impl_->cv.wait_for(lock, timeout, [&] { return !impl_->incoming.empty(); })) return nullptr;
  auto r = std::move(impl_->incoming.front());
  impl_->incoming.pop_front();
  return r;
}

std::vector<std::string> router::hops(const std::vector<std::string>& via, std::chrono::milliseconds timeout) {
  const std::string me = impl_->self();
  if (me.empty()) throw channel_error(channel_errc::protocol, "hops: the router is not bound to an endpoint");
  if (via.empty()) {
    std::shared_lock b(impl_->bind_mu);
    std::vector<std::string> names;
    for (auto& n : impl_->ep->online())
      if (n != me) names.push_back(n);
    return names;
  }
  std::string query = new_stream();
  {
    std::lock_guard lock(impl_->mu);
    impl_->hops_pending[query];
  }
  w::hops_body b{std::vector<std::string>(via.begin() + 1, via.end())};
  std::string where;
  for (auto& n : via) where += (where.empty() ? "" : "/") + n;
  if (!impl_->send(via.front(), w::hops_kind, w::encode(b), query)) {
    std::lock_guard lock(impl_->mu);
    impl_->hops_pending.erase(query);
    throw channel_error(channel_errc::protocol, "hops via " + where + ": " + me + " could not send the query");
  }
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait_for(lock, timeout, [&] { return impl_->hops_pending[query].has_value(); });
  auto reply = std::move(impl_->hops_pending[query]);
  impl_->hops_pending.erase(query);
  if (!reply)
    throw channel_error(channel_errc::timeout, "hops via " + where + ": no answer within " + std::to_string(timeout.count()) +
                                                   " ms (is " + via.back() + " a relay agent, and online?)");
  if (!reply->error.empty()) throw channel_error(channel_errc::remote_failure, "hops via " + where + ": " + reply->from + ": " + reply->error);
  return reply->hops;
}

// ---- route ----------------------------------------------------------------------------------

void route::send(std::string kind, std::string body, std::string ref) {
  if (!is_valid_kind(kind))
    throw channel_error(channel_errc::bad_envelope, "route " + id_ + ": kind \"" + xgate::printable(kind) + "\" is not valid");
  std::lock_guard order(s_->send_mu);
  std::uint64_t seq;
  {
    std::lock_guard lock(s_->core->mu);
    if (s_->ended) throw s_->error_locked();
    seq = s_->next_seq++;
  }
  if (!s_->core->send(s_->adjacent, w::data_kind, w::encode(w::data_body{seq, std::move(kind), std::move(body), std::move(ref)}), id_)) {
    std::lock_guard lock(s_->core->mu);
    s_->end_locked(path_.front(), path_.front() + " could not hand message seq " + std::to_string(seq) + " to its endpoint");
    throw s_->error_locked();
  }
}

std::optional<route_message> route::receive(std::chrono::milliseconds timeout) {
  std::unique_lock lock(s_->core->mu);
  s_->core->cv.wait_for(lock, timeout, [&] { return !s_->inbox.empty() || s_->ended; });
  if (s_->inbox.empty()) return std::nullopt;
  route_message m = std::move(s_->inbox.front());
  s_->inbox.pop_front();
  return m;
}

bool route::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(s_->core->mu);
  s_->core->cv.wait_for(lock, timeout, [&] { return s_->confirmed + 1 == s_->next_seq || s_->ended; });
  if (s_->confirmed + 1 == s_->next_seq) return true;
  if (s_->ended) throw s_->error_locked();
  return false;
}

void route::close() {
  {
    std::lock_guard lock(s_->core->mu);
    if (s_->ended) return;
    s_->end_locked(path_.front(), "closed by " + path_.front(), true);
  }
  s_->core->send(s_->adjacent, w::close_kind, w::encode(w::broken_body{path_.front(), "closed by " + path_.front()}), id_);
}

bool route::broken() const {
  std::lock_guard lock(s_->core->mu);
  return s_->ended;
}

std::optional<channel_error> route::error() const {
  std::lock_guard lock(s_->core->mu);
  if (!s_->ended) return std::nullopt;
  return s_->error_locked();
}

std::string route::broken_hop() const {
  std::lock_guard lock(s_->core->mu);
  return s_->ended ? s_->hop : std::string();
}

std::uint64_t route::sent() const {
  std::lock_guard lock(s_->core->mu);
  return s_->next_seq - 1;
}
std::uint64_t route::confirmed() const {
  std::lock_guard lock(s_->core->mu);
  return s_->confirmed;
}
std::uint64_t route::received() const {
  std::lock_guard lock(s_->core->mu);
  return s_->received;
}

}  // namespace xgate::channel
