#include <xgate/channel/hub.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <sodium.h>

#include <xgate/channel/envelope.hpp>
#include <xgate/channel/link.hpp>
#include <xgate/store/names.hpp>
#include <xgate/xmlcodec.hpp>

namespace xgate::channel::hub_docs {

// A log document (see hub.hpp). Plain strings: the store's XPath reads them as written.
struct log_record {
  std::string event, from, to, id, kind, time;
  std::uint64_t size = 0;
  std::string digest, code, detail;
};
XGATE_TYPE(log_record, "channel.log", 1, (), (event, from, to, id, kind, time, size, digest, code, detail))

// A queued message: the envelope as written by its sender, plus when the hub queued it.
struct queued {
  std::string from, to, id, correlation, kind;
  std::uint64_t seq = 0;
  std::int64_t time_ns = 0, queued_ns = 0;
  std::string body;
};
XGATE_TYPE(queued, "channel.queued", 1, (), (from, to, id, correlation, kind, seq, time_ns, queued_ns, body))

}  // namespace xgate::channel::hub_docs

namespace xgate::channel {

namespace {

using steady = std::chrono::steady_clock;
using hub_docs::log_record;
using hub_docs::queued;

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

std::string body_digest(std::string_view body) {
  unsigned char h[32];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(body.data()), body.size(), nullptr, 0);
  return hex(h, sizeof h);
}

std::string iso_time(std::chrono::system_clock::time_point t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(us % 1000000));
  return buf;
}

// "log/2024-05-01/120000.123456-INSTANCE-N": sorts by time within a day, unique per hub run.
std::string log_name(std::chrono::system_clock::time_point t, const std::string& instance, std::uint64_t n) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "log/%04d-%02d-%02d/%02d%02d%02d.%06lld-%s-%llu", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(us % 1000000), instance.c_str(),
                static_cast<unsigned long long>(n));
  return buf;
}

std::string queue_prefix(std::string_view endpoint) { return "channel/queue/" + std::string(endpoint) + "/"; }

std::string counter_text(std::uint64_t n) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(n));
  return buf;
}

// The sender named by a message id FROM/STREAM/SEQ ("" when it does not read so).
std::string sender_of_id(std::string_view id) {
  auto last = id.rfind('/');
  if (last == std::string_view::npos || last == 0) return {};
  auto stream = id.rfind('/', last - 1);
  if (stream == std::string_view::npos || stream == 0) return {};
  std::string from(id.substr(0, stream));
  return is_valid_endpoint(from) ? from : std::string();
}

// Whether an authenticated credential may take the endpoint name (the rule in hub.hpp).
// Beyond its own names, a credential narrowed to channel names must cover
// channel/endpoints/NAME, and its principal must hold the write right on the nearest
// existing document among channel/endpoints/NAME and its parents: a grant alone is not
// enough, since anyone can issue themselves a credential for any scope.
bool may_take(const store::store& st, const store::caller& who, std::string_view name) {
  const std::string& p = who.principal();
  if (name == p || (name.size() > p.size() && name.starts_with(p) && name[p.size()] == '/')) return true;
  const store::grant* g = who.limits();
  std::string doc = "channel/endpoints/" + std::string(name);
  if (!g || g->scope.empty() || !g->allows(doc, xgate::right::write)) return false;
  for (;;) {
    try {
      return st.info(doc, p).rights.allows(p, xgate::right::write);
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

// Principal names a rights list may hold; an odd one is left out of the log's readers.
void add_reader(principal_list& l, const std::string& p) {
  if (!p.empty() && is_valid_principal(p) && p != "*" && p != "creator" && std::find(l.begin(), l.end(), p) == l.end())
    l.push_back(p);
}

struct op {
  bool remove = false;
  std::string name, xml;
};

struct commit_item {
  std::vector<op> ops;
  std::function<void(bool ok)> done;  // under the hub's lock, in submission order
};

}  // namespace

struct hub::impl : std::enable_shared_from_this<hub::impl> {
  struct conn;

  // What the hub keeps per endpoint name (online or not).
  struct endpoint_state {
    std::string name, principal;
    // hub -> endpoint: every message queued for it, in order, until it acknowledges them.
    link_sender out;
    struct entry {
      std::string doc;  // the queue document
      std::int64_t queued_ns = 0;
      std::string stream_key;  // from + " " + stream: for refusing a broken stream
      std::size_t size = 0;    // body bytes
    };
    std::deque<entry> docs;  // parallel to out's buffer
    std::uint64_t sent_upto = 0;  // highest link seq handed to the current connection
    std::size_t pending = 0, pending_bytes = 0;  // accepted for it, not yet committed
    std::size_t bytes = 0;                       // body bytes in docs
    bool ack_due = false;                        // committed messages from it to acknowledge
    // endpoint -> hub
    std::uint64_t in_stream = 0, accepted = 0, committed = 0, in_gen = 0;
    std::shared_ptr<conn> connection;  // authenticated and current; null when offline
    std::set<std::string> broken;       // sender streams refused (see hub.hpp)
    endpoint_state(std::string n, link_options lo) : name(std::move(n)), out(new_link_stream(), lo) {}
  };

  struct conn : hub_connection {
    std::weak_ptr<impl> owner;
    std::string peer;
    send_function send;
    close_function close;
    std::optional<hub_handshake> hs;
    endpoint_state* ep = nullptr;  // set once authenticated; endpoint states live as long as the hub
    std::string name;
    bool closed = false;
    steady::time_point opened = steady::now(), heard = opened;

    void on_frame(frame f) override {
      if (auto h = owner.lock()) h->on_frame(*this, std::move(f));
    }
    void on_bad_input(const channel_error& e) override {
      if (auto h = owner.lock()) h->on_bad_input(*this, e);
    }
    void on_closed() override {
      if (auto h = owner.lock()) h->on_closed(*this);
    }
    std::string endpoint() const override {
      auto h = owner.lock();
      if (!h) return {};
      std::lock_guard lock(h->mu);
      return ep ? name : std::string();
    }
  };

  store::store& st;
  hub_options opt;
  store_verifier verifier;
  std::string instance;
  mutable std::mutex mu;
  std::map<std::string, std::unique_ptr<endpoint_state>, std::less<>> endpoints;
  std::set<std::shared_ptr<conn>> conns;
  std::uint64_t queue_counter = 0, log_counter = 0;
  std::vector<endpoint_state*> acks_due;
  hub_stats stats;
  bool stopping = false;

  // The committer.
  std::mutex cmu;
  std::condition_variable ccv;
  std::deque<commit_item> items;
  bool cstop = false;
  std::thread committer, housekeeper;
  std::condition_variable hcv;  // with mu: wakes the housekeeper at stop

  std::mutex log_mu;

  impl(store::store& s, hub_options o) : st(s), opt(std::move(o)), verifier(s) {
    if (sodium_init() < 0) throw channel_error(channel_errc::protocol, "libsodium failed to initialize");
    unsigned char r[4];
    randombytes_buf(r, sizeof r);
    instance = hex(r, sizeof r);
    load();
  }

  link_options sender_options() const {
    // The hub's own limit is the queue limit (checked before pushing); the link's is a backstop.
    return link_options{opt.max_queue_messages + 1024, opt.max_queue_bytes + (std::size_t{64} << 20)};
  }

  void note(const std::string& line) {
    if (!opt.log) return;
    std::lock_guard lock(log_mu);
    *opt.log << "hub: " << line << "\n";
    opt.log->flush();
  }

  endpoint_state& state_of(const std::string& name) {
    auto it = endpoints.find(name);
    if (it == endpoints.end()) it = endpoints.emplace(name, std::make_unique<endpoint_state>(name, sender_options())).first;
    return *it->second;
  }

  std::string principal_of(const std::string& endpoint) {
    auto it = endpoints.find(endpoint);
    if (it != endpoints.end() && !it->second->principal.empty()) return it->second->principal;
    return endpoint.substr(0, endpoint.find('/'));
  }

  // Rebuilds the queues from the store (after a restart): each endpoint's messages in the
  // order they were queued.
  void load() {
    const store::caller me(opt.principal);
    for (const store::document_info& info : st.list("channel/queue", me)) {
      store::document d = st.read(info.name, me);
      decode_options o;
      o.principal = opt.principal;
      o.document_name = info.name;
      queued q = from_xml<queued>(d.xml, o);
      auto slash = info.name.rfind('/');
      std::uint64_t n = std::strtoull(info.name.c_str() + slash + 1, nullptr, 10);
      queue_counter = std::max(queue_counter, n);
      envelope e;
      e.from = std::move(q.from);
      e.to = std::move(q.to);
      e.seq = q.seq;
      e.id = std::move(q.id);
      e.correlation = std::move(q.correlation);
      e.kind = std::move(q.kind);
      e.time = std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(q.time_ns)));
      e.body = std::move(q.body);
      endpoint_state& s = state_of(e.to);
      std::string key = e.from + " " + std::string(stream_of(e));
      s.bytes += e.body.size();
      s.docs.push_back({info.name, q.queued_ns, std::move(key), e.body.size()});
      s.out.push(std::move(e));
      ++stats.queued;
    }
    if (stats.queued) note("restart: " + std::to_string(stats.queued) + " queued messages loaded from the store");
  }

  // ---- committer ---------------------------------------------------------------------
  void submit(commit_item item) {
    {
      std::lock_guard lock(cmu);
      items.push_back(std::move(item));
    }
    ccv.notify_one();
  }

  void run_committer() {
    const store::caller me(opt.principal);
    for (;;) {
      std::vector<commit_item> batch_items;
      {
        std::unique_lock lock(cmu);
        ccv.wait(lock, [&] { return cstop || !items.empty(); });
        if (items.empty() && cstop) return;
        // Gather: a short wait lets messages arriving together share one commit (one fsync).
        if (!cstop && items.size() < opt.group_commit_max && opt.group_commit.count() > 0)
          ccv.wait_for(lock, opt.group_commit, [&] { return cstop || items.size() >= opt.group_commit_max; });
        std::size_t ops = 0;
        while (!items.empty() && (batch_items.empty() || ops < opt.group_commit_max)) {
          ops += items.front().ops.size();
          batch_items.push_back(std::move(items.front()));
          items.pop_front();
        }
      }
      store::batch b;
      for (auto& it : batch_items)
        for (auto& o : it.ops) {
          if (o.remove)
            b.remove(std::move(o.name));
          else
            b.write(std::move(o.name), std::move(o.xml));
        }
      bool ok = true;
      auto t0 = steady::now();
      if (!b.empty()) {
        try {
          st.apply(b, me);
        } catch (const std::exception& e) {
          ok = false;
          note(std::string("store commit of ") + std::to_string(b.size()) + " operations failed: " + e.what());
        }
      }
      auto t1 = steady::now();
      std::lock_guard lock(mu);
      ++stats.commits;
      stats.committed_ops += b.size();
      stats.commit_time += t1 - t0;
      for (auto& it : batch_items)
        if (it.done) it.done(ok);
      flush_acks();
    }
  }

  op log_op(log_record r, const std::string& reader1, const std::string& reader2) {
    auto now = std::chrono::system_clock::now();
    if (r.time.empty()) r.time = iso_time(now);
    principal_list readers;
    add_reader(readers, opt.principal);
    add_reader(readers, reader1);
    add_reader(readers, reader2);
    auto rights = xgate::rights::owned_by(opt.principal).readers(readers);
    return op{false, log_name(now, instance, ++log_counter), to_xml(r, encode_options{.indent = 0, .rights = rights})};
  }

  // A log entry on its own (refusals, logins): committed with the next batch.
  void log_event(log_record r, const std::string& reader1 = {}, const std::string& reader2 = {}) {
    submit(commit_item{{log_op(std::move(r), reader1, reader2)}, nullptr});
  }

  // ---- sending to connections (under mu) --------------------------------------------
  void send_to(conn& c, std::vector<frame> fs) {
    if (c.closed || fs.empty()) return;
    try {
      c.send(std::move(fs));
    } catch (const std::exception& e) {
      note("send to " + c.peer + " failed: " + e.what());
    }
  }
  void close_conn(conn& c) {
    if (c.closed) return;
    c.closed = true;
    try {
      c.close();
    } catch (...) {
    }
    detach(c);
  }
  // The connection is gone: its endpoint goes offline.
  void detach(conn& c) {
    endpoint_state* s = c.ep;
    if (!s || s->connection.get() != &c) return;
    s->connection.reset();
    --stats.online;
    note("logout: " + s->name + " (" + c.peer + ")");
    broadcast_presence(s->name, false);
  }

  void broadcast_presence(const std::string& name, bool online) {
    frames::presence p{false, {{name, online}}};
    for (auto& [n, s] : endpoints)
      if (s->connection && n != name) send_to(*s->connection, {p});
  }

  // Sends what the endpoint's link has pending, within the window.
  void pump(endpoint_state& s) {
    if (!s.connection) return;
    std::uint64_t in_flight = s.sent_upto > s.out.acked() ? s.sent_upto - s.out.acked() : 0;
    if (in_flight >= opt.window || !s.out.has_pending()) return;
    auto ms = s.out.take(opt.window - static_cast<std::size_t>(in_flight));
    if (ms.empty()) return;
    s.sent_upto = ms.back().link_seq;
    std::vector<frame> fs;
    fs.reserve(ms.size());
    for (auto& m : ms) fs.emplace_back(std::move(m));
    send_to(*s.connection, std::move(fs));
  }

  void refuse(conn& c, channel_errc code, const std::string& detail, const std::string& event) {
    note("refused " + c.peer + ": " + detail);
    ++stats.messages_refused;
    log_record r;
    r.event = event;
    r.code = to_string(code);
    r.detail = store::printable(detail);
    r.from = c.ep ? c.name : std::string();
    log_event(std::move(r), c.ep ? c.ep->principal : std::string());
    send_to(c, {frames::refused{code, "refused"}});
    close_conn(c);
  }

  // ---- frames ------------------------------------------------------------------------
  void on_frame(conn& c, frame f) {
    std::lock_guard lock(mu);
    if (c.closed || stopping) return;
    c.heard = steady::now();
    try {
      if (!c.ep) return handshake(c, std::move(f));
      std::visit(
          [&](auto&& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, frames::message>) {
              on_message(c, std::move(x));
            } else if constexpr (std::is_same_v<T, frames::ack>) {
              on_ack(c, x);
            } else if constexpr (std::is_same_v<T, frames::ping>) {
              send_to(c, {frames::pong{x.nonce}});
            } else if constexpr (std::is_same_v<T, frames::pong>) {
            } else if constexpr (std::is_same_v<T, frames::error>) {
              on_peer_error(c, std::move(x));
            } else {
              throw channel_error(channel_errc::protocol, std::string("a ") + kind_name(frame(x)) + " frame after login");
            }
          },
          std::move(f));
    } catch (const channel_error& e) {
      protocol_failure(c, e);
    }
  }

  void protocol_failure(conn& c, const channel_error& e) {
    std::string who = c.ep ? "endpoint " + c.name + " (" + c.peer + ")" : c.peer;
    note("closing " + who + ": " + e.what());
    ++stats.messages_refused;
    log_record r;
    r.event = "refused";
    r.from = c.ep ? c.name : std::string();
    r.code = to_string(e.reason());
    r.detail = store::printable(e.detail());
    log_event(std::move(r), c.ep ? c.ep->principal : std::string());
    send_to(c, {frames::error{e.reason(), store::printable(e.detail()), {}}});
    close_conn(c);
  }

  void on_bad_input(conn& c, const channel_error& e) {
    std::lock_guard lock(mu);
    if (c.closed) return;
    protocol_failure(c, e);
  }

  void on_closed(conn& c) {
    std::lock_guard lock(mu);
    c.closed = true;
    detach(c);
    for (auto it = conns.begin(); it != conns.end(); ++it)
      if (it->get() == &c) {
        conns.erase(it);
        break;
      }
  }

  void handshake(conn& c, frame f) {
    if (auto* h = std::get_if<frames::hello>(&f)) {
      if (c.hs) throw channel_error(channel_errc::protocol, "hello twice");
      c.hs.emplace(verifier, opt.context);
      try {
        frames::challenge ch = c.hs->on_hello(*h);
        send_to(c, {std::move(ch)});
      } catch (const channel_error& e) {
        return refuse(c, e.reason(), e.detail(), "auth_failed");
      }
      return;
    }
    if (auto* a = std::get_if<frames::auth>(&f)) {
      if (!c.hs) return refuse(c, channel_errc::bad_auth, "auth before hello", "auth_failed");
      std::optional<authenticated> who;
      try {
        who.emplace(c.hs->on_auth(*a));
      } catch (const channel_error& e) {
        return refuse(c, channel_errc::bad_auth, e.detail(), "auth_failed");
      }
      if (!may_take(st, who->who, who->endpoint))
        return refuse(c, channel_errc::bad_auth,
                      "principal \"" + who->who.principal() + "\" (credential " + who->credential_id +
                          ") may not take the endpoint name \"" + store::printable(who->endpoint) + "\"",
                      "auth_failed");
      return login(c, std::move(*who));
    }
    throw channel_error(channel_errc::protocol, std::string("a ") + kind_name(f) + " frame before login");
  }

  void login(conn& c, authenticated who) {
    endpoint_state& s = state_of(who.endpoint);
    auto self = [&]() -> std::shared_ptr<conn> {
      for (auto& p : conns)
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
    c.ep = &s;
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

  void on_message(conn& c, frames::message m) {
    endpoint_state& a = *c.ep;
    if (m.link_seq <= a.accepted) {
      // Sent again (a reconnect): already accepted; acknowledge what is committed.
      if (a.committed > 0) send_to(c, {frames::ack{a.committed}});
      return;
    }
    if (m.link_seq != a.accepted + 1) return;  // a gap: dropped, it comes again in order
    a.accepted = m.link_seq;
    std::uint64_t seq = m.link_seq, gen = a.in_gen;
    envelope& e = m.env;

    log_record r;
    r.from = e.from;
    r.to = e.to;
    r.id = e.id;
    r.kind = e.kind;
    r.size = e.body.size();
    r.digest = body_digest(e.body);
    r.time = iso_time(e.time);

    std::optional<channel_error> refusal;
    endpoint_state* b = nullptr;
    if (e.from != c.name) {
      refusal = channel_error(channel_errc::spoofed_sender, "message " + store::printable(e.id) + " claims sender \"" +
                                                                store::printable(e.from) + "\", but the link is \"" +
                                                                c.name + "\"");
    } else {
      b = &state_of(e.to);
      std::string key = e.from + " " + std::string(stream_of(e));
      if (b->broken.contains(key)) {
        refusal = channel_error(channel_errc::buffer_full, "message " + e.id + " to \"" + e.to +
                                                               "\": an earlier message of its stream was refused");
      } else if (b->out.unacked() + b->pending >= opt.max_queue_messages ||
                 (b->bytes + b->pending_bytes > 0 && b->bytes + b->pending_bytes + e.body.size() > opt.max_queue_bytes)) {
        b->broken.insert(key);
        refusal = channel_error(channel_errc::buffer_full,
                                "message " + e.id + " to \"" + e.to + "\": its queue is full (" +
                                    std::to_string(b->out.unacked() + b->pending) + " messages)");
      }
    }

    commit_item item;
    auto self = shared_from_this();
    if (refusal) {
      note("refused from " + c.name + " (" + c.peer + "): " + refusal->detail());
      r.event = "refused";
      r.code = to_string(refusal->reason());
      r.detail = store::printable(refusal->detail());
      item.ops.push_back(log_op(std::move(r), a.principal, {}));
      frames::error err{refusal->reason(), store::printable(refusal->detail()), e.id};
      std::string from = c.name;
      item.done = [this, from, seq, gen, err = std::move(err)](bool ok) mutable {
        ++stats.messages_refused;
        committed_in(from, seq, gen, ok);
        endpoint_state& s = state_of(from);
        if (ok && s.connection) send_to(*s.connection, {std::move(err)});
      };
    } else {
      r.event = "forwarded";
      std::string to_principal = principal_of(e.to);
      item.ops.push_back(log_op(std::move(r), a.principal, to_principal));
      auto now = std::chrono::system_clock::now();
      queued q{e.from, e.to, e.id, e.correlation, e.kind, e.seq,
               std::chrono::duration_cast<std::chrono::nanoseconds>(e.time.time_since_epoch()).count(),
               std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count(), e.body};
      std::string doc = queue_prefix(e.to) + counter_text(++queue_counter);
      auto qr = xgate::rights::owned_by(opt.principal);
      item.ops.push_back(op{false, doc, to_xml(q, encode_options{.indent = 0, .rights = qr})});
      b->pending += 1;
      b->pending_bytes += e.body.size();
      std::string from = c.name;
      std::int64_t queued_ns = q.queued_ns;
      item.done = [this, from, seq, gen, doc = std::move(doc), queued_ns, env = std::move(e)](bool ok) mutable {
        endpoint_state& rcv = state_of(env.to);
        rcv.pending -= 1;
        rcv.pending_bytes -= env.body.size();
        committed_in(from, seq, gen, ok);
        if (!ok) return;
        ++stats.messages_forwarded;
        ++stats.queued;
        std::string key = env.from + " " + std::string(stream_of(env));
        rcv.bytes += env.body.size();
        rcv.docs.push_back({std::move(doc), queued_ns, std::move(key), env.body.size()});
        rcv.out.push(std::move(env));
        pump(rcv);
      };
    }
    submit(std::move(item));
  }

  // A commit of a message from `from` (link seq) finished: acknowledge it, or on failure
  // drop the connection so that the endpoint sends it again.
  void committed_in(const std::string& from, std::uint64_t seq, std::uint64_t gen, bool ok) {
    endpoint_state& a = state_of(from);
    if (a.in_gen != gen) return;
    if (!ok) {
      a.accepted = a.committed;
      ++a.in_gen;
      if (a.connection) close_conn(*a.connection);
      return;
    }
    if (seq > a.committed) a.committed = seq;
    // One ack per endpoint per commit: sent by flush_acks after the batch's callbacks.
    if (!a.ack_due) {
      a.ack_due = true;
      acks_due.push_back(&a);
    }
  }

  void flush_acks() {
    for (endpoint_state* a : acks_due) {
      a->ack_due = false;
      if (a->connection) send_to(*a->connection, {frames::ack{a->committed}});
    }
    acks_due.clear();
  }

  void on_ack(conn& c, const frames::ack& k) {
    endpoint_state& s = *c.ep;
    std::size_t n = s.out.on_ack(k.seq);  // bad_ack: protocol failure
    if (n == 0) return;
    std::vector<op> ops;
    ops.reserve(n);
    for (std::size_t i = 0; i < n && !s.docs.empty(); ++i) {
      s.bytes -= std::min(s.bytes, s.docs.front().size);
      ops.push_back(op{true, std::move(s.docs.front().doc), {}});
      s.docs.pop_front();
    }
    stats.queued -= std::min(stats.queued, n);
    submit(commit_item{std::move(ops), nullptr});
    pump(s);
  }

  // The receiver's gate refused a body (or another endpoint-side error about a message):
  // logged, and passed on to the message's sender when it is online.
  void on_peer_error(conn& c, frames::error err) {
    std::string sender = sender_of_id(err.message_id);
    note("error from " + c.name + " about " + store::printable(err.message_id) + ": " + to_string(err.code) + ": " +
         store::printable(err.reason));
    log_record r;
    r.event = "rejected";
    r.from = sender;
    r.to = c.name;
    r.id = store::printable(err.message_id);
    r.code = to_string(err.code);
    r.detail = store::printable(err.reason);
    std::string sp = sender.empty() ? std::string() : principal_of(sender);
    commit_item item{{log_op(std::move(r), c.ep->principal, sp)}, nullptr};
    if (!sender.empty()) {
      item.done = [this, sender, err = std::move(err)](bool) mutable {
        auto it = endpoints.find(sender);
        if (it != endpoints.end() && it->second->connection) send_to(*it->second->connection, {std::move(err)});
      };
    }
    submit(std::move(item));
  }

  // ---- housekeeping ------------------------------------------------------------------
  void run_housekeeper() {
    std::unique_lock lock(mu);
    auto tick = std::clamp(std::min(opt.idle_timeout, opt.handshake_timeout) / 4, std::chrono::milliseconds(10),
                           std::chrono::milliseconds(500));
    std::optional<steady::time_point> pruned;
    while (!stopping) {
      if (opt.log_days > 0 && (!pruned || steady::now() - *pruned >= std::chrono::hours(1))) {
        pruned = steady::now();
        lock.unlock();  // store work, and nothing of the hub's state
        prune_log(std::chrono::system_clock::now());
        lock.lock();
        if (stopping) break;
      }
      hcv.wait_for(lock, tick);
      if (stopping) break;
      auto now = steady::now();
      std::vector<std::shared_ptr<conn>> idle;
      for (auto& c : conns) {
        if (c->closed) continue;
        if ((!c->ep && now - c->opened > opt.handshake_timeout) || now - c->heard > opt.idle_timeout) idle.push_back(c);
      }
      for (auto& c : idle) {
        note("closing " + (c->ep ? c->name + " (" + c->peer + ")" : c->peer) + ": silent too long");
        close_conn(*c);
      }
      expire(std::chrono::system_clock::now());
    }
  }

  // Removes the log documents of days before the last log_days (hub.hpp), oldest first, a
  // bounded batch at a time: names sort by day, so the first documents under "log/" are the
  // oldest. Housekeeper thread, without the hub's lock.
  void prune_log(std::chrono::system_clock::time_point now) {
    const std::string first_kept = log_name(now - std::chrono::hours(24) * (opt.log_days - 1), "", 0).substr(0, 15);  // "log/YYYY-MM-DD/"
    const store::caller me(opt.principal);
    std::uint64_t removed = 0;
    try {
      for (;;) {
        {
          std::lock_guard lock(mu);
          if (stopping) break;
        }
        store::batch b;
        for (const store::document_info& d : st.list("log", me, 1000))
          if (d.name.starts_with("log/") && d.name < first_kept) b.remove(d.name);
        if (b.empty()) break;
        st.apply(b, me);
        removed += b.size();
      }
    } catch (const std::exception& e) {
      note("log retention: " + std::string(e.what()));
    }
    if (removed == 0) return;
    note("log retention: removed " + std::to_string(removed) + " log documents from before " + first_kept.substr(4, 10) +
         " (log_days " + std::to_string(opt.log_days) + ")");
    std::lock_guard lock(mu);
    stats.log_documents_pruned += removed;
  }

  // Removes messages queued longer than queue_expiry for offline endpoints (hub.hpp).
  void expire(std::chrono::system_clock::time_point now) {
    auto limit = std::chrono::duration_cast<std::chrono::nanoseconds>((now - opt.queue_expiry).time_since_epoch()).count();
    for (auto& [name, s] : endpoints) {
      if (s->connection || s->docs.empty() || s->docs.front().queued_ns > limit) continue;
      // Rebuild the link without the expired messages and the rest of their streams.
      std::set<std::string> dead;
      link_sender fresh(new_link_stream(), sender_options());
      std::deque<endpoint_state::entry> kept;
      std::vector<op> ops;
      s->out.rewind();  // take() hands out everything unacknowledged, parallel to docs
      auto ms = s->out.take();
      for (std::size_t i = 0; i < ms.size() && i < s->docs.size(); ++i) {
        auto& d = s->docs[i];
        if (d.queued_ns <= limit || dead.contains(d.stream_key)) {
          dead.insert(d.stream_key);
          log_record r;
          r.event = "expired";
          r.from = ms[i].env.from;
          r.to = name;
          r.id = ms[i].env.id;
          r.kind = ms[i].env.kind;
          r.size = ms[i].env.body.size();
          r.digest = body_digest(ms[i].env.body);
          ops.push_back(log_op(std::move(r), principal_of(ms[i].env.from), principal_of(name)));
          ops.push_back(op{true, d.doc, {}});
          stats.queued -= std::min<std::size_t>(stats.queued, 1);
          s->bytes -= std::min(s->bytes, d.size);
        } else {
          fresh.push(std::move(ms[i].env));
          kept.push_back(std::move(d));
        }
      }
      note("expired " + std::to_string(s->docs.size() - kept.size()) + " messages queued for " + name);
      for (auto& k : dead) s->broken.insert(k);
      s->out = std::move(fresh);
      s->docs = std::move(kept);
      s->sent_upto = 0;
      submit(commit_item{std::move(ops), nullptr});
    }
  }

  void stop() {
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      stopping = true;
      for (auto& c : conns) {
        if (c->closed) continue;
        c->closed = true;
        try {
          c->close();
        } catch (...) {
        }
      }
      for (auto& [n, s] : endpoints) s->connection.reset();
      stats.online = 0;
    }
    hcv.notify_all();
    if (housekeeper.joinable()) housekeeper.join();
    {
      std::lock_guard lock(cmu);
      cstop = true;
    }
    ccv.notify_all();
    if (committer.joinable()) committer.join();
    std::lock_guard lock(mu);
    conns.clear();
  }
};

hub::hub(store::store& s, hub_options options) : impl_(std::make_shared<impl>(s, std::move(options))) {
  impl_->committer = std::thread([i = impl_.get()] { i->run_committer(); });
  impl_->housekeeper = std::thread([i = impl_.get()] { i->run_housekeeper(); });
}

hub::~hub() { stop(); }

void hub::stop() { impl_->stop(); }

std::shared_ptr<hub_connection> hub::open(std::string peer, send_function send, close_function close) {
  auto c = std::make_shared<impl::conn>();
  c->owner = impl_;
  c->peer = std::move(peer);
  c->send = std::move(send);
  c->close = std::move(close);
  std::lock_guard lock(impl_->mu);
  if (impl_->stopping) {
    c->closed = true;
    try {
      c->close();
    } catch (...) {
    }
    return c;
  }
  impl_->conns.insert(c);
  return c;
}

std::vector<std::string> hub::online() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> out;
  for (auto& [n, s] : impl_->endpoints)
    if (s->connection) out.push_back(n);
  return out;
}

hub_stats hub::stats() const {
  std::lock_guard lock(impl_->mu);
  hub_stats s = impl_->stats;
  s.connections = impl_->conns.size();
  return s;
}

const hub_options& hub::options() const noexcept { return impl_->opt; }

}  // namespace xgate::channel
