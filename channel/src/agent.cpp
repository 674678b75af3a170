// The relay agent (agent.hpp): two endpoints of the same name, one per side, and the table
// of routes crossing it.
#include <xgate/base/text.hpp>
#include <xgate/channel/agent.hpp>

#include <algorithm>
#include <deque>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <xgate/channel/hub.hpp>
#include <xgate/channel/tcp.hpp>
#include <xgate/store/names.hpp>
#include <xgate/store/store.hpp>

#include "agent_wire.hpp"

namespace xgate::channel {

namespace w = route_wire;

namespace {
using steady = std::chrono::steady_clock;
constexpr int up = 0, down = 1;
const char* side_name(int side) { return side == up ? "upstream" : "downstream"; }

// A message to put on one side, sent after the agent's lock is released (send may wait for
// room in the endpoint's buffer).
struct outgoing {
  int side;
  std::string to, kind, body, correlation;
};
}  // namespace

struct agent::impl {
  agent_options opt;
  std::string listen_address;
  unsigned short listen_port = 0;

  // The downstream hub, when the agent runs it.
  std::unique_ptr<store::store> st;
  std::unique_ptr<hub> h;
  std::unique_ptr<tcp_hub_server> server;
  std::string url[2];
  std::unique_ptr<endpoint> ep[2];

  struct hop_route {
    int prev_side = up;
    std::string prev, next;  // next is on the other side
    std::string description;  // "origin > a > b > c", for the log
  };
  struct pending_hops {
    int side;
    std::string asker, query;
    steady::time_point deadline;
  };
  mutable std::mutex mu;
  std::map<std::string, hop_route> routes;
  // Routes broken or closed lately: the hop and reason, so that data still in flight on
  // one is answered with why it broke (not "no such route", which would race with the
  // route.broken this agent sent, and name the wrong hop). Bounded: the oldest go first.
  struct tombstone {
    std::string hop, reason;
  };
  std::map<std::string, tombstone> tombstones;
  std::deque<std::string> tombstone_order;
  static constexpr std::size_t max_tombstones = 4096;
  void bury(const std::string& id, std::string hop, std::string reason) {
    if (tombstones.insert_or_assign(id, tombstone{std::move(hop), std::move(reason)}).second) tombstone_order.push_back(id);
    while (tombstone_order.size() > max_tombstones) {
      tombstones.erase(tombstone_order.front());
      tombstone_order.pop_front();
    }
  }
  std::map<std::string, pending_hops> hops_pending;
  std::map<std::pair<int, std::string>, steady::time_point> unreachable_since;
  agent_stats stats;
  bool stopping = false;
  std::condition_variable stop_cv;
  std::thread watch;
  bool started = false;

  explicit impl(agent_options o) : opt(std::move(o)) {
    if (!is_valid_endpoint(opt.name))
      throw channel_error(channel_errc::bad_envelope, "agent name \"" + xgate::printable(opt.name) + "\" is not valid (the store's name rules)");
    if (opt.upstream.empty()) throw channel_error(channel_errc::protocol, "agent " + opt.name + ": no upstream hub URL");
    if (opt.upstream_secret.empty() && opt.upstream_secret_file.empty())
      throw channel_error(channel_errc::bad_auth, "agent " + opt.name + ": no upstream secret and no secret file");
    if (!opt.downstream_listen.empty()) {
      if (!parse_listen(opt.downstream_listen, listen_address, listen_port))
        throw channel_error(channel_errc::protocol, "agent " + opt.name + ": downstream listen address \"" +
                                                        xgate::printable(opt.downstream_listen) + "\" is not ADDRESS:PORT");
      if (opt.data_dir.empty())
        throw channel_error(channel_errc::protocol, "agent " + opt.name + ": a downstream hub it runs needs a data directory");
    } else if (opt.downstream.empty()) {
      throw channel_error(channel_errc::protocol, "agent " + opt.name + ": neither a downstream listen address nor a downstream hub URL");
    } else if (opt.downstream_secret.empty() && opt.downstream_secret_file.empty()) {
      throw channel_error(channel_errc::bad_auth, "agent " + opt.name + ": no downstream secret and no secret file");
    }
  }

  void log(const std::string& line, log_level level = log_level::info) {
    if (opt.log) opt.log->write(level, "agent " + opt.name, line);
  }

  std::string where(int side) const { return opt.name + "'s " + side_name(side) + " hub " + url[side]; }

  bool reachable(int side, const std::string& name) const {
    if (ep[side]->state() != endpoint_state::connected) return false;
    auto on = ep[side]->online();
    return std::binary_search(on.begin(), on.end(), name);
  }

  std::string unreachable_reason(int side, const std::string& name) const {
    if (ep[side]->state() != endpoint_state::connected) {
      std::string e = ep[side]->last_error();
      return opt.name + " lost its connection to its " + side_name(side) + " hub " + url[side] +
             (e.empty() ? std::string() : " (" + e + ")");
    }
    return name + " is not online on " + where(side);
  }

  static outgoing broken_to(int side, std::string to, const std::string& route, std::string hop, std::string reason) {
    return {side, std::move(to), w::broken_kind, w::encode(w::broken_body{std::move(hop), std::move(reason)}), route};
  }

  void send_all(std::vector<outgoing>& out) {
    for (auto& o : out) {
      try {
        ep[o.side]->send(std::move(o.to), std::move(o.kind), std::move(o.body), std::move(o.correlation));
      } catch (const std::exception& x) {
        log(std::string("could not send on the ") + side_name(o.side) + " side: " + x.what(), log_level::warning);
      }
    }
    out.clear();
  }

  // ---- messages from either side (the endpoints' I/O threads) ----------------------------
  void on_message(int side, envelope e) {
    std::vector<outgoing> out;
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      try {
        if (e.kind == w::open_kind)
          on_open(side, e, out);
        else if (e.kind == w::hops_kind)
          on_hops(side, e, out);
        else if (e.kind == w::hops_reply_kind)
          on_hops_reply(side, e, out);
        else if (e.kind.starts_with("route."))
          on_route(side, e, out);
        else
          log("ignored a " + e.kind + " message from " + e.from + " (an agent only relays routes)", log_level::warning);
      } catch (const std::exception& x) {
        log("refused " + e.kind + " message " + e.id + " from " + e.from + ": " + x.what(), log_level::warning);
      }
    }
    send_all(out);
  }

  void on_open(int side, const envelope& e, std::vector<outgoing>& out) {
    auto b = w::decode<w::open_body>(e.body);
    const std::string& id = e.correlation;
    std::string description = b.origin;
    for (auto& n : b.path) description += " > " + n;
    auto self = std::find(b.path.begin(), b.path.end(), opt.name);
    auto refuse = [&](std::string hop, std::string reason) {
      log("route " + id + " " + description + " refused: " + reason, log_level::warning);
      out.push_back(broken_to(side, e.from, id, std::move(hop), std::move(reason)));
    };
    if (id.empty()) return log("ignored a route.open without a route id from " + e.from, log_level::warning);
    if (self == b.path.end()) return refuse(opt.name, opt.name + " is not on the route's path");
    if (self + 1 == b.path.end()) return refuse(opt.name, opt.name + " is a relay agent, not the end of a route");
    // The previous hop must be the one before this agent on the path: no hop can splice
    // itself into someone else's route.
    const std::string& expected_prev = self == b.path.begin() ? b.origin : *(self - 1);
    if (e.from != expected_prev)
      return refuse(opt.name, "route.open came from " + e.from + ", but the hop before " + opt.name + " is " + expected_prev);
    // Calls over a route reach their node without a hub stamping them with the origin's
    // methods (envelope.hpp), so a limited credential would escape its limits here.
    if (!e.sender_methods.empty())
      return refuse(opt.name, e.from + " holds a credential limited to methods (" + store::join_methods(e.sender_methods) +
                                  "): it may not open routes, whose calls are not checked against them");
    if (routes.contains(id)) return;  // the same open again: already passed on
    const std::string next = *(self + 1);
    const int other = 1 - side;
    if (!reachable(other, next)) return refuse(next, unreachable_reason(other, next));
    routes[id] = hop_route{side, e.from, next, description};
    ++stats.routes_opened;
    log("route " + id + " " + description + ": " + e.from + " (" + side_name(side) + ") -> " + next + " (" +
        side_name(other) + ")");
    out.push_back({other, next, e.kind, e.body, id});
  }

  void on_route(int side, const envelope& e, std::vector<outgoing>& out) {
    auto it = routes.find(e.correlation);
    if (it == routes.end()) {
      // Data for a route this agent does not know (torn down, or the agent restarted):
      // the sender must hear it, or it would wait for acknowledgements forever.
      if (e.kind == w::data_kind) {
        auto t = tombstones.find(e.correlation);
        if (t != tombstones.end())
          out.push_back(broken_to(side, e.from, e.correlation, t->second.hop, t->second.reason));
        else
          out.push_back(broken_to(side, e.from, e.correlation, opt.name,
                                  opt.name + " has no route " + e.correlation + " (torn down, or " + opt.name + " restarted)"));
      }
      return;
    }
    hop_route& r = it->second;
    outgoing o{0, {}, e.kind, e.body, e.correlation};
    if (side == r.prev_side && e.from == r.prev) {
      o.side = 1 - side;
      o.to = r.next;
    } else if (side != r.prev_side && e.from == r.next) {
      o.side = r.prev_side;
      o.to = r.prev;
    } else {
      return log("ignored " + e.kind + " for route " + e.correlation + " from " + e.from + ", not a hop next to " + opt.name, log_level::warning);
    }
    out.push_back(std::move(o));
    if (e.kind == w::data_kind) ++stats.messages_relayed;
    if (e.kind == w::broken_kind || e.kind == w::close_kind) {
      std::string why;
      try {
        auto b = w::decode<w::broken_body>(e.body);
        why = " at " + b.hop + ": " + b.reason;
        bury(e.correlation, b.hop, b.reason);
      } catch (const std::exception&) {
      }
      log("route " + e.correlation + " " + r.description + (e.kind == w::close_kind ? " closed" : " broken") + why);
      ++(e.kind == w::close_kind ? stats.routes_closed : stats.routes_broken);
      routes.erase(it);
    }
  }

  void on_hops(int side, const envelope& e, std::vector<outgoing>& out) {
    auto b = w::decode<w::hops_body>(e.body);
    const int other = 1 - side;
    auto reply = [&](std::vector<std::string> hops, std::string error) {
      out.push_back({side, e.from, w::hops_reply_kind,
                     w::encode(w::hops_reply_body{opt.name, std::move(hops), std::move(error)}), e.correlation});
    };
    if (e.correlation.empty()) return;
    if (b.path.empty()) {
      if (ep[other]->state() != endpoint_state::connected) return reply({}, unreachable_reason(other, ""));
      std::vector<std::string> names;
      for (auto& n : ep[other]->online())
        if (n != opt.name) names.push_back(n);
      return reply(std::move(names), "");
    }
    const std::string next = b.path.front();
    if (!reachable(other, next)) return reply({}, unreachable_reason(other, next));
    std::string query = new_stream();
    hops_pending[query] = pending_hops{side, e.from, e.correlation, steady::now() + std::chrono::seconds(60)};
    b.path.erase(b.path.begin());
    out.push_back({other, next, w::hops_kind, w::encode(b), query});
  }

  void on_hops_reply(int side, const envelope& e, std::vector<outgoing>& out) {
    auto it = hops_pending.find(e.correlation);
    if (it == hops_pending.end() || it->second.side == side) return;
    out.push_back({it->second.side, it->second.asker, e.kind, e.body, it->second.query});
    hops_pending.erase(it);
  }

  // ---- the watch thread: neighbours that went away break their routes --------------------
  void run_watch() {
    std::unique_lock lock(mu);
    while (!stopping) {
      stop_cv.wait_for(lock, std::chrono::milliseconds(50));
      if (stopping) return;
      std::vector<outgoing> out = check_routes();
      if (!out.empty()) {
        lock.unlock();
        send_all(out);
        lock.lock();
      }
    }
  }

  std::vector<outgoing> check_routes() {
    auto now = steady::now();
    std::set<std::pair<int, std::string>> peers, failed;
    for (auto& [id, r] : routes) {
      peers.emplace(r.prev_side, r.prev);
      peers.emplace(1 - r.prev_side, r.next);
    }
    std::map<std::pair<int, std::string>, std::string> reasons;
    for (auto& p : peers) {
      if (reachable(p.first, p.second)) {
        unreachable_since.erase(p);
        continue;
      }
      auto since = unreachable_since.emplace(p, now).first->second;
      if (now - since >= opt.hop_timeout) {
        failed.insert(p);
        reasons[p] = unreachable_reason(p.first, p.second);
      }
    }
    std::erase_if(unreachable_since, [&](auto& kv) { return !peers.contains(kv.first); });
    std::erase_if(hops_pending, [&](auto& kv) { return kv.second.deadline < now; });
    std::vector<outgoing> out;
    if (failed.empty()) return out;
    for (auto it = routes.begin(); it != routes.end();) {
      hop_route& r = it->second;
      std::pair<int, std::string> prev{r.prev_side, r.prev}, next{1 - r.prev_side, r.next};
      bool prev_failed = failed.contains(prev), next_failed = failed.contains(next);
      if (!prev_failed && !next_failed) {
        ++it;
        continue;
      }
      const auto& bad = next_failed ? next : prev;
      const std::string& reason = reasons[bad];
      log("route " + it->first + " " + r.description + " broken at " + bad.second + ": " + reason, log_level::warning);
      if (!prev_failed) out.push_back(broken_to(prev.first, prev.second, it->first, next.second, reason));
      if (!next_failed) out.push_back(broken_to(next.first, next.second, it->first, prev.second, reason));
      ++stats.routes_broken;
      bury(it->first, bad.second, reason);
      it = routes.erase(it);
    }
    return out;
  }

  // ---- life ------------------------------------------------------------------------------
  void start() {
    std::string down_secret = opt.downstream_secret;
    if (!opt.downstream_listen.empty()) {
      // The agent runs the downstream hub like `xgated --hub` does, over its own store, and
      // logs in to it with a credential it issues itself.
      st = std::make_unique<store::store>(opt.data_dir);
      store::credential_request r;
      r.scope = "";
      r.rights = store::right_set::all();
      r.label = "agent " + opt.name;
      down_secret = st->issue_credential(store::caller(opt.name), r);
      h = std::make_unique<hub>(*st, hub_options{.context = "xgate agent " + opt.name + " hub@" + opt.downstream_listen,
                                                 .log = opt.log});
      server = std::make_unique<tcp_hub_server>(*h, tcp_server_options{.address = listen_address, .port = listen_port, .tls = opt.downstream_tls});
      server->start();
      url[down] = server->url();
    } else {
      url[down] = opt.downstream;
    }
    url[up] = opt.upstream;
    for (int side : {up, down}) {
      endpoint_options o;
      o.hub = url[side];
      o.name = opt.name;
      o.secret = side == up ? opt.upstream_secret : down_secret;
      o.secret_file = side == up ? opt.upstream_secret_file : (down_secret.empty() ? opt.downstream_secret_file : "");
      o.reconnect_min = std::chrono::milliseconds(20);
      o.reconnect_max = opt.reconnect_max;
      o.on_message = [this, side](envelope e) { on_message(side, std::move(e)); };
      // A peer that went offline may come back as a new process with a fresh inbox.
      o.on_presence = [this, side](const frames::presence& p) {
        for (auto& entry : p.entries)
          if (!entry.online) ep[side]->restart_stream(entry.endpoint);
      };
      o.on_connection = [this, side](bool connected) {
        if (!connected) log(std::string("disconnected from its ") + side_name(side) + " hub " + url[side] + ": " + ep[side]->last_error(), log_level::warning);
      };
      ep[side] = std::make_unique<endpoint>(std::move(o));
    }
    ep[up]->start();
    ep[down]->start();
    watch = std::thread([this] { run_watch(); });
    started = true;
  }

  void stop() {
    {
      std::lock_guard lock(mu);
      if (!started || stopping) return;
      stopping = true;
      stop_cv.notify_all();
    }
    if (watch.joinable()) watch.join();
    // Downstream first: an upstream I/O thread waiting for room downstream then returns.
    for (int side : {down, up})
      if (ep[side]) ep[side]->stop();
    if (server) server->stop();
    if (h) h->stop();
    std::lock_guard lock(mu);
    routes.clear();
    stats.routes = 0;
  }
};

agent::agent(agent_options options) : impl_(std::make_shared<impl>(std::move(options))) {}
agent::~agent() { stop(); }

void agent::start() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->started) throw std::logic_error("agent " + impl_->opt.name + ": started twice");
  }
  impl_->start();
}

void agent::stop() { impl_->stop(); }

std::string agent::downstream_url() const { return impl_->url[down]; }

void agent::reload_tls() {
  if (impl_->server) impl_->server->reload_tls();
}

bool agent::wait_connected(std::chrono::milliseconds timeout) {
  auto deadline = steady::now() + timeout;
  for (int side : {up, down}) {
    if (!impl_->ep[side]) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    if (left.count() < 0 || !impl_->ep[side]->wait_connected(left)) return false;
  }
  return true;
}

agent_stats agent::stats() const {
  std::lock_guard lock(impl_->mu);
  agent_stats s = impl_->stats;
  s.routes = impl_->routes.size();
  return s;
}

const std::string& agent::name() const noexcept { return impl_->opt.name; }

}  // namespace xgate::channel
