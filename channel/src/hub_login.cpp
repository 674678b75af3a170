// The hub's connections before and around login: the handshake (auth.hpp), who may take
// which endpoint name (hub.hpp), a new connection replacing the old, refusals and protocol
// failures that close a connection, and the presence others see.
#include "hub_impl.hpp"

#include <algorithm>

#include <xgate/base/text.hpp>
#include <xgate/store/names.hpp>

namespace xgate::channel::hub_detail {

// Whether an authenticated credential may take the endpoint name (the rule in hub.hpp).
// Who created a document decides whether it counts, not its existence: anyone may create
// channel/endpoints/NAME and issue themselves a credential for it.
bool may_take(const store::store& documents, const std::vector<std::string>& administrators, const store::caller& who,
              std::string_view name) {
  const std::string& p = who.principal();
  if (name == p || (name.size() > p.size() && name.starts_with(p) && name[p.size()] == '/')) return true;
  const store::grant* g = who.limits();
  std::string doc = "channel/endpoints/" + std::string(name);
  if (!g || g->scope.empty() || !g->allows(doc, xgate::right::write)) return false;
  auto is_administrator = [&](const std::string& q) {
    return std::find(administrators.begin(), administrators.end(), q) != administrators.end();
  };
  const std::size_t top = std::string_view("channel/endpoints").size();
  // Who may read a document, to learn who created it: the taker, or an administrator.
  std::vector<std::string> readers{p};
  readers.insert(readers.end(), administrators.begin(), administrators.end());
  for (; doc.size() > top; doc.resize(doc.rfind('/'))) {
    if (!documents.contains(doc)) continue;
    for (const std::string& reader : readers) {
      std::optional<store::document_info> info;
      try {
        info = documents.info(doc, reader);
      } catch (const store::store_error& e) {
        if (e.code() != store::store_errc::not_found) throw;
        break;  // removed meanwhile
      } catch (const xgate::access_denied&) {
        continue;
      }
      if (is_administrator(info->rights.creator)) return info->rights.allows(p, xgate::right::write);
      break;  // someone else's: ignored
    }
  }
  return false;
}

}  // namespace xgate::channel::hub_detail

namespace xgate::channel {

using namespace hub_detail;

void hub::impl::send_to(conn& c, std::vector<frame> fs) {
  if (c.closed || fs.empty()) return;
  try {
    c.send(std::move(fs));
  } catch (const std::exception& e) {
    note("send to " + c.peer + " failed: " + e.what(), log_level::warning);
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
  withdraw(*s);
  if (!remote_online.contains(s->name)) broadcast_presence(s->name, false);
}

void hub::impl::broadcast_presence(const std::string& name, bool online) {
  frames::presence p{false, {{name, online}}};
  for (auto& [n, s] : endpoints)
    if (s->connection && n != name) send_to(*s->connection, {p});
}

void hub::impl::refuse(conn& c, channel_errc code, const std::string& detail, const std::string& event,
                       const std::string& reason) {
  note("refused " + c.peer + ": " + detail, log_level::warning);
  ++stats.messages_refused;
  log_record r;
  r.event = event;
  r.code = to_string(code);
  r.detail = xgate::printable(detail);
  r.from = c.state ? c.name : std::string();
  log_event(std::move(r), c.state ? c.state->principal : std::string());
  send_to(c, {frames::refused{code, reason}});
  close_conn(c);
}

void hub::impl::protocol_failure(conn& c, const channel_error& e) {
  std::string who = c.state ? "endpoint " + c.name + " (" + c.peer + ")" : c.peer;
  note("closing " + who + ": " + e.what(), log_level::warning);
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

namespace {

// The client address in a connection's peer ("tcp ADDRESS:PORT", "http ADDRESS:PORT session
// ID"): what failed logins are counted by.
std::string address_of(const std::string& peer) {
  std::size_t start = peer.find(' ');
  start = start == std::string::npos ? 0 : start + 1;
  std::size_t end = peer.find(' ', start);
  std::string host_port = peer.substr(start, end == std::string::npos ? std::string::npos : end - start);
  std::size_t colon = host_port.rfind(':');
  return colon == std::string::npos ? host_port : host_port.substr(0, colon);
}

}  // namespace

void hub::impl::handshake(conn& c, frame f) {
  if (auto* h = std::get_if<frames::hello>(&f)) {
    if (c.handshake) throw channel_error(channel_errc::protocol, "hello twice");
    if (logins) {
      std::string address = address_of(c.peer);
      if (std::chrono::seconds wait = logins->blocked(address); wait.count() > 0) {
        std::string why = logins->refusal(address, wait);
        return refuse(c, channel_errc::bad_auth, why, "auth_failed", why);
      }
    }
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
      if (logins && logins->failed(address_of(c.peer)))
        note(logins->reached(address_of(c.peer)) + ": its logins are refused until the window ends", log_level::warning);
      return refuse(c, channel_errc::bad_auth, e.detail(), "auth_failed");
    }
    if (!may_take(store_, options.administrators, who->who, who->endpoint)) {
      std::string denied = "access denied: principal \"" + who->who.principal() + "\" may not take the endpoint name \"" +
                           xgate::printable(who->endpoint) + "\"";
      return refuse(c, channel_errc::bad_auth, denied + " (credential " + who->credential_id + ")", "auth_failed", denied);
    }
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
  bool was_online = s.connection != nullptr || remote_online.contains(s.name);
  if (s.connection) {
    // A new connection for the name wins: the old one is likely half-dead (a reconnect).
    // If it is alive, it is another session of the name: told so, it stops instead of
    // reconnecting and knocking this one off in turn.
    auto old = s.connection;
    s.connection.reset();
    --stats.online;
    note("replacing the connection of " + s.name + " (" + old->peer + ") by " + c.peer);
    send_to(*old, {frames::refused{channel_errc::protocol,
                                   "endpoint " + s.name + ": replaced by a newer session (" + c.peer + ")"}});
    old->closed = true;
    try {
      old->close();
    } catch (...) {
    }
  }
  if (s.stale) reload(s);  // another hub changed the queue meanwhile: the store has it
  c.state = &s;
  c.name = who.endpoint;
  c.credential_id = who.credential_id;
  c.methods = who.who.limits() ? who.who.limits()->methods : std::vector<std::string>{};
  s.principal = who.who.principal();
  s.connection = self;
  ++stats.online;
  announce(c);
  // hub -> endpoint: resume where the endpoint stands. An endpoint that does not stand
  // within the stream (another session of the name, a restarted process) gets what is
  // unacknowledged on a fresh stream rather than renumbered on this one: a (stream, seq)
  // pair then always names one message, and a session that comes back with an old
  // position cannot acknowledge messages renumbered for another.
  const link_state& peer = who.link;
  if (peer.received_stream == s.out.stream() && peer.received_seq >= s.out.acked() && peer.received_seq <= s.out.last()) {
    s.out.resume(peer);
  } else {
    link_sender fresh(new_link_stream(), sender_options());
    s.out.rewind();  // take() then gives everything unacknowledged, also what the old connection had
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
  for (const std::string& n : remote_online)
    if (auto it = endpoints.find(n); it == endpoints.end() || !it->second->connection) snap.entries.push_back({n, true});
  send_to(c, {std::move(snap)});
  if (!was_online) broadcast_presence(s.name, true);
  pump(s);
}

}  // namespace xgate::channel
