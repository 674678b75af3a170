// Multi-hop relay agents: reaching endpoints on another network through a chain of hubs.
//
//   hub1 <- agent-a -> hub2 <- agent-b -> hub3
//   node-a (on hub1)  ~~~ route node-a > agent-a > agent-b > node-c ~~~  node-c (on hub3)
//
// An agent bridges two networks: it is an endpoint on an upstream hub (URL + secret) and an
// endpoint on a downstream hub, which it either runs itself (a hub on a listen address over
// its own store directory, like `xgated --hub`; the agent mints its own login there) or joins
// (URL + secret). Both of its endpoints carry the agent's name. Routes only ever cross an
// agent from one side to the other, so a chain of agents links hub after hub.
//
// Routes. The requester's router (one per endpoint, like `methods`) opens a route along a
// path of names, e.g. {"agent-a", "agent-b", "node-c"}: the last is the far end, the others
// relay. The route is built hop by hop with messages on the ordinary channel:
//   route.open    origin and path; each agent on the path remembers the previous hop (who sent
//                 it, on which side) and the next one (the next name, on its other side,
//                 which must be online there) and passes it on
//   route.ok      the far end's router accepted; travels back along the remembered hops
//   route.data    one message of the route: route seq (from 1, per direction), kind, body
//   route.ack     the receiving end's cumulative acknowledgement of route seqs
//   route.broken  the hop that failed and why; travels to the route's end(s) and every agent
//                 it passes forgets the route
//   route.close   an end closes the route; forwarded and forgotten like route.broken
// Every route message carries the route id (16 hex digits, fresh per route) as its envelope
// correlation, so an agent forwards a body verbatim without decoding it.
//
// Delivery. Each hop is an ordinary link (the hub acknowledges a message after its store
// commit, an endpoint's inbox drops link duplicates), so between two hops a message arrives
// exactly once and in order, and an agent forwards in the order it receives. End to end, the
// receiving router still numbers what it gets: a route seq it had is dropped (exactly once),
// and a gap — a message that a hop lost — breaks the route rather than delivering out of
// order. The receiver acknowledges route seqs to the sender (route.ack), so route::flush()
// means "the far end has it", and a broken route tells the sender exactly which of its
// messages were not confirmed.
// Why an agent acknowledges a message upstream as soon as it is in its downstream endpoint's
// buffer (in memory), rather than after the downstream hub committed it: a route's state
// lives in the agents' memory and a route does not outlive an agent (an agent that dies
// breaks its routes), so persisting in the agent would keep messages for a route nobody can
// resume; what the sender needs instead is the far end's confirmation, which route.ack gives.
//
// Failure. Every hop watches its neighbours on the route by presence: a neighbour that is
// not online on the hub it shares with this hop (or this hop's connection to that hub is
// down) for longer than hop_timeout breaks the route. The agent that notices tells the other
// neighbour (route.broken naming the failed hop), and the message travels to that end of the
// route; the route end next to the failure notices it itself. E.g. agent-b killed: agent-a
// sees agent-b go offline on hub2 and tells node-a; node-c loses hub3 (agent-b ran it) and
// breaks its end naming agent-b. A send on a broken route throws channel_error(route_broken):
//   channel: route 3f9c0d2e71b4a856 node-a > agent-a > agent-b > node-c is broken at hop
//   agent-b: agent-b went offline on agent-a's downstream hub tcp://127.0.0.1:41234; 12 of
//   1500 messages sent were not confirmed by node-c (seq 1489..1500)
//
// Hops. router::hops({}) lists who is online on the router's own hub; hops({"agent-a"}) asks
// agent-a who is online on its other side (the side away from the asker); hops({"agent-a",
// "agent-b"}) asks agent-a to ask agent-b, and so on: that is how a requester finds further
// agents and the endpoints behind them. A name that does not relay answers with an error
// (a router) or not at all (a plain endpoint: the query times out).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <xgate/base/log.hpp>
#include <xgate/channel/endpoint.hpp>
#include <xgate/channel/error.hpp>
#include <xgate/tls/context.hpp>

namespace xgate::channel {

struct agent_options {
  std::string name;  // the agent's endpoint name on both hubs

  std::string upstream;  // hub URL: "tcp://HOST:PORT", "tls://HOST:PORT", "http(s)://HOST:PORT" (long-poll)
  std::string upstream_secret, upstream_secret_file;

  // Downstream, either a hub the agent runs (downstream_listen "ADDRESS:PORT", port 0 picks a
  // free one, over the store in data_dir; other endpoints need logins in that store, e.g.
  // `xgated adduser NAME --data DIR` before the agent starts) ...
  std::string downstream_listen;
  std::string data_dir;
  xgate::tls::server_settings downstream_tls;  // the hub it runs speaks TLS (tls://) with this certificate
  // ... or a hub it joins as an endpoint (used when downstream_listen is "").
  std::string downstream;
  std::string downstream_secret, downstream_secret_file;

  // A route neighbour unreachable this long breaks the route (see above).
  std::chrono::milliseconds hop_timeout{3000};
  std::chrono::milliseconds reconnect_max{1000};
  // One line per route opened, refused, broken or closed, and per hub login failure. May be null.
  xgate::logger* log = nullptr;  // component "agent NAME"; must outlive the agent
};

struct agent_stats {
  std::uint64_t routes_opened = 0, routes_broken = 0, routes_closed = 0;
  std::uint64_t messages_relayed = 0;
  std::size_t routes = 0;  // open now
};

class agent {
 public:
  // Checks the options: channel_error(bad_envelope) for a bad name, (protocol) for a bad
  // URL or listen address or missing downstream, (bad_auth) for a missing secret.
  explicit agent(agent_options options);
  ~agent();  // stop()
  agent(const agent&) = delete;
  agent& operator=(const agent&) = delete;

  // Opens the store and starts the downstream hub (when it runs one), then both endpoints
  // and the watch thread. Throws what the store or the listener throws.
  void start();
  // Stops everything; routes through this agent break at their neighbours. Idempotent.
  void stop();

  // The downstream hub's URL ("tcp://127.0.0.1:PORT"): the one it serves or the one it joined.
  std::string downstream_url() const;
  // The downstream hub it runs with TLS: reads downstream_tls's files again for connections
  // accepted from now on (tls_error: the old ones stay). Otherwise nothing.
  void reload_tls();
  // Both endpoints logged in, within timeout. Throws channel_error(bad_auth) when a login
  // was refused.
  [[nodiscard]] bool wait_connected(std::chrono::milliseconds timeout);
  agent_stats stats() const;
  const std::string& name() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

// ---- route ends --------------------------------------------------------------------------

struct route_options {
  // The adjacent hop unreachable this long breaks the route (see above).
  std::chrono::milliseconds hop_timeout{3000};
  // The receiving end acknowledges after this many messages, or this long after the last.
  std::size_t ack_every = 64;
  std::chrono::milliseconds ack_delay{20};
};

struct route_message {
  std::uint64_t seq = 0;  // route seq, from 1 per direction
  std::string kind;
  std::string body;
  std::string ref;  // what the sender gave as ref ("" when nothing)
};

class router;

// One end of an open route. Thread-safe.
class route {
 public:
  const std::string& id() const noexcept { return id_; }
  // The names along the route from this end to the other, both included.
  const std::vector<std::string>& path() const noexcept { return path_; }
  const std::string& peer() const noexcept { return path_.back(); }

  // Sends one message to the other end (buffered by the endpoint until its hub has it);
  // ref travels with it untouched (a correlation: methods put call ids there).
  // Throws channel_error(route_broken) naming the hop once the route is broken or closed,
  // (bad_envelope) for a bad kind.
  void send(std::string kind, std::string body, std::string ref = {});
  // The next message from the other end, in order, each once; nullopt after timeout or when
  // the route is broken or closed and nothing is left.
  [[nodiscard]] std::optional<route_message> receive(std::chrono::milliseconds timeout);
  // Waits until the other end has confirmed everything sent (true), or timeout (false);
  // throws channel_error(route_broken) when the route breaks first.
  [[nodiscard]] bool flush(std::chrono::milliseconds timeout);
  // Tells the other end and forgets the route. Idempotent.
  void close();

  bool broken() const;                         // broken or closed
  std::optional<channel_error> error() const;  // what send() would throw now
  std::string broken_hop() const;              // "" while open
  std::uint64_t sent() const, confirmed() const, received() const;

 private:
  friend class router;
  struct shared;  // this route's state, with its router's (agent_route.cpp)
  route(std::shared_ptr<shared> s, std::string id, std::vector<std::string> path)
      : s_(std::move(s)), id_(std::move(id)), path_(std::move(path)) {}
  std::shared_ptr<shared> s_;
  std::string id_;
  std::vector<std::string> path_;
};

// Opens routes from one endpoint and accepts routes to it. Wire it like `methods`: give its
// on_message to the endpoint before start(), bind() it, unbind() before the endpoint goes.
class router {
 public:
  explicit router(route_options options = {});
  ~router();  // unbind()
  router(const router&) = delete;
  router& operator=(const router&) = delete;

  // The endpoint's on_message: route messages are handled here, others go to rest.
  std::function<void(envelope)> on_message(std::function<void(envelope)> rest = {});
  void bind(endpoint& e);  // and starts the watch thread
  void unbind();           // stops it; open routes break ("unbound")

  // Opens a route along path (relays, then the far end) and waits for the far end's
  // route.ok. Throws channel_error(route_broken) naming the hop that refused (not online,
  // not a relay), (timeout) when no answer came in time.
  [[nodiscard]] std::shared_ptr<route> open(std::vector<std::string> path, std::chrono::milliseconds timeout);
  // The next route opened to this endpoint; nullptr after timeout.
  [[nodiscard]] std::shared_ptr<route> accept(std::chrono::milliseconds timeout);

  // Who is online on the router's own hub (via {}), or on the far side of the last agent of
  // via. Throws channel_error(remote_failure) with the answering hop's reason, (timeout).
  [[nodiscard]] std::vector<std::string> hops(const std::vector<std::string>& via, std::chrono::milliseconds timeout);

 private:
  friend class route;
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace xgate::channel
