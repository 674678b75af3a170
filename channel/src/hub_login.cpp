// The hub's connections before and around login: the handshake (auth.hpp), who may take
// which endpoint name (hub.hpp), a new connection replacing the old, refusals and protocol
// failures that close a connection, and the presence others see.
#include "hub_impl.hpp"

#include <algorithm>

#include <xgate/base/text.hpp>
#include <xgate/store/names.hpp>

namespace xgate::channel::hub_detail {

// Whether an authenticated credential may take the endpoint name (the rule in hub.hpp).
// Beyond its own names, a credential narrowed to channel names must cover
// channel/endpoints/NAME, and its principal must hold the write right on the nearest
// existing document among channel/endpoints/NAME and its parents: a grant alone is not
// enough, since anyone can issue themselves a credential for any scope.
bool may_take(const store::store& documents, const store::caller& who, std::string_view name) {
  const std::string& p = who.principal();
  if (name == p || (name.size() > p.size() && name.starts_with(p) && name[p.size()] == '/')) return true;
  const store::grant* g = who.limits();
  std::string doc = "channel/endpoints/" + std::string(name);
  if (!g || g->scope.empty() || !g->allows(doc, xgate::right::write)) return false;
  for (;;) {
    try {
      return documents.info(doc, p).rights.allows(p, xgate::right::write);
    } catch (const store::store_error& e) {
      if (e.code() != store::store_errc::not_found) throw;
    } catch (const xgate::access_denied&) {
      return false;  // may not even read it
    }
    std::size_t slash = doc.rfind('/');
    if (slash <= std::string_view("channel/endpoints").size()) return false;
    doc.resize(slash);
  }
}

}  // namespace xgate::channel::hub_detail

namespace xgate::channel {

using namespace hub_detail;

void hub::impl::send_to(conn& c, std::vector<frame> fs) {
  if (c.closed || fs.empty()) return;
  try {
    c.send(std::move(fs));
  } catch (const std::exception& e) {
    note("send to " + c.peer + " failed: " + e.what());
  }
}

void hub::impl::close_conn(conn& c) {
  if (c.closed) return;
  c.closed = true;
  try {
    c.close();
  } catch (...) {
  }
  detach(c);
}

// The connection is gone: its endpoint goes offline.
void hub::impl::detach(conn& c) {
  endpoint_state* s = c.state;
  if (!s || s->connection.get() != &c) return;
  s->connection.reset();
  --stats.online;
  note("logout: " + s->name + " (" + c.peer + ")");
  broadcast_presence(s->name, false);
}

void hub::impl::broadcast_presence(const std::string& name, bool online) {
  frames::presence p{false, {{name, online}}};
  for (auto& [n, s] : endpoints)
    if (s->connection && n != name) send_to(*s->connection, {p});
}

void hub::impl::refuse(conn& c, channel_errc code, const std::string& detail, const std::string& event) {
  note("refused " + c.peer + ": " + detail);
  ++stats.messages_refused;
  log_record r;
  r.event = event;
  r.code = to_string(code);
  r.detail = xgate::printable(detail);
  r.from = c.state ? c.name : std::string();
  log_event(std::move(r), c.state ? c.state->principal : std::string());
  send_to(c, {frames::refused{code, "refused"}});
  close_conn(c);
}

void hub::impl::protocol_failure(conn& c, const channel_error& e) {
  std::string who = c.state ? "endpoint " + c.name + " (" + c.peer + ")" : c.peer;
  note("closing " + who + ": " + e.what());
  ++stats.messages_refused;
  log_record r;
  r.event = "refused";
  r.from = c.state ? c.name : std::string();
  r.code = to_string(e.reason());
  r.detail = xgate::printable(e.detail());
  log_event(std::move(r), c.state ? c.state->principal : std::string());
  send_to(c, {frames::error{e.reason(), xgate::printable(e.detail()), {}}});
  close_conn(c);
}

void hub::impl::on_bad_input(conn& c, const channel_error& e) {
  std::lock_guard lock(state_mutex);
  if (c.closed) return;
  protocol_failure(c, e);
}

void hub::impl::on_closed(conn& c) {
  std::lock_guard lock(state_mutex);
  c.closed = true;
  detach(c);
  for (auto it = connections.begin(); it != connections.end(); ++it)
    if (it->get() == &c) {
      connections.erase(it);
      break;
    }
}

void hub::impl::handshake(conn& c, frame f) {
  if (auto* h = std::get_if<frames::hello>(&f)) {
    if (c.handshake) throw channel_error(channel_errc::protocol, "hello twice");
    c.handshake.emplace(verifier, options.context);
    try {
      frames::challenge ch = c.handshake->on_hello(*h);
      send_to(c, {std::move(ch)});
    } catch (const channel_error& e) {
      return refuse(c, e.reason(), e.detail(), "auth_failed");
    }
    return;
  }
  if (auto* a = std::get_if<frames::auth>(&f)) {
    if (!c.handshake) return refuse(c, channel_errc::bad_auth, "auth before hello", "auth_failed");
    std::optional<authenticated> who;
    try {
      who.emplace(c.handshake->on_auth(*a));
    } catch (const channel_error& e) {
      return refuse(c, channel_errc::bad_auth, e.detail(), "auth_failed");
    }
    if (!may_take(store_, who->who, who->endpoint))
      return refuse(c, channel_errc::bad_auth,
                    "principal \"" + who->who.principal() + "\" (credential " + who->credential_id +
                        ") may not take the endpoint name \"" + xgate::printable(who->endpoint) + "\"",
                    "auth_failed");
    return login(c, std::move(*who));
  }
  throw channel_error(channel_errc::protocol, std::string("a ") + kind_name(f) + " frame before login");
}

void hub::impl::login(conn& c, authenticated who) {
  endpoint_state& s = state_of(who.endpoint);
  auto self = [&]() -> std::shared_ptr<conn> {
    for (auto& p : connections)
      if (p.get() == &c) return p;
    return nullptr;
  }();
  if (!self) return;
  bool was_online = s.connection != nullptr;
  if (s.connection) {
    // A new connection for the name wins: the old one is likely half-dead (a reconnect).
    auto old = s.connection;
    s.connection.reset();
    --stats.online;
    note("replacing the connection of " + s.name + " (" + old->peer + ") by " + c.peer);
    old->closed = true;
    try {
      old->close();
    } catch (...) {
    }
  }
  c.state = &s;
  c.name = who.endpoint;
  s.principal = who.who.principal();
  s.connection = self;
  ++stats.online;
  // hub -> endpoint: resume where the endpoint stands.
  try {
    s.out.resume(who.link);
  } catch (const channel_error&) {
    // The endpoint claims more than this hub sent on the stream: start a fresh stream.
    link_sender fresh(new_link_stream(), sender_options());
    for (auto& m : s.out.take()) fresh.push(std::move(m.env));
    s.out = std::move(fresh);
  }
  s.sent_upto = s.out.acked();
  // endpoint -> hub: a new stream starts from nothing.
  if (who.link.sending_stream != s.in_stream) {
    s.in_stream = who.link.sending_stream;
    s.accepted = s.committed = 0;
    ++s.in_gen;
  } else {
    s.accepted = s.committed;  // anything accepted but not committed comes again
    ++s.in_gen;
  }
  note("login: " + s.name + " as " + s.principal + " (credential " + who.credential_id + ", " + c.peer + ")");
  send_to(c, {frames::welcome{link_state{s.out.stream(), s.in_stream, s.committed}}});
  frames::presence snap{true, {}};
  for (auto& [n, e] : endpoints)
    if (e->connection) snap.entries.push_back({n, true});
  send_to(c, {std::move(snap)});
  if (!was_online) broadcast_presence(s.name, true);
  pump(s);
}

}  // namespace xgate::channel
