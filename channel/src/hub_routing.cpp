// The hub's routing after login: a message is checked, committed with its log record, then
// acknowledged to its sender and handed to its receiver's link (pump, within the window);
// a receiver's acknowledgement removes its queue documents; a receiver's error about a
// message goes back to the message's sender.
#include "hub_impl.hpp"

#include <xgate/channel/envelope.hpp>
#include <xgate/base/text.hpp>
#include <xgate/base/time.hpp>
#include <xgate/store/credentials.hpp>

namespace xgate::channel {

using namespace hub_detail;

namespace {

// The sender named by a message id FROM/STREAM/SEQ ("" when it does not read so).
std::string sender_of_id(std::string_view id) {
  auto last = id.rfind('/');
  if (last == std::string_view::npos || last == 0) return {};
  auto stream = id.rfind('/', last - 1);
  if (stream == std::string_view::npos || stream == 0) return {};
  std::string from(id.substr(0, stream));
  return is_valid_endpoint(from) ? from : std::string();
}

}  // namespace

void hub::impl::on_frame(conn& c, frame f) {
  std::lock_guard lock(state_mutex);
  if (c.closed || stopping) return;
  c.last_heard = steady::now();
  try {
    if (!c.state) return handshake(c, std::move(f));
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
  } catch (const std::exception& e) {
    // The store failed (e.g. engine_unavailable while a database fails over): no verdict
    // on the peer. Closed without a refusal, the endpoint logs in again after its backoff.
    note("closing " + (c.state ? "endpoint " + c.name + " (" + c.peer + ")" : c.peer) + ": the store failed: " + e.what(),
         log_level::error);
    close_conn(c);
  }
}

// Sends what the endpoint's link has pending, within the window.
void hub::impl::pump(endpoint_state& s) {
  if (!s.connection) return;
  std::uint64_t in_flight = s.sent_upto > s.out.acked() ? s.sent_upto - s.out.acked() : 0;
  if (in_flight >= options.window || !s.out.has_pending()) return;
  auto ms = s.out.take(options.window - static_cast<std::size_t>(in_flight));
  if (ms.empty()) return;
  s.sent_upto = ms.back().link_seq;
  std::vector<frame> fs;
  fs.reserve(ms.size());
  for (auto& m : ms) fs.emplace_back(std::move(m));
  send_to(*s.connection, std::move(fs));
}

void hub::impl::on_message(conn& c, frames::message m) {
  endpoint_state& a = *c.state;
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
  r.time = format_utc(e.time, 6);

  std::optional<channel_error> refusal;
  endpoint_state* b = nullptr;
  if (e.from != c.name) {
    refusal = channel_error(channel_errc::spoofed_sender, "message " + xgate::printable(e.id) + " claims sender \"" +
                                                              xgate::printable(e.from) + "\", but the link is \"" +
                                                              c.name + "\"");
  } else {
    b = &state_of(e.to);
    std::string key = e.from + " " + std::string(stream_of(e));
    if (!kind_permitted(e.kind, c.methods)) {
      b->broken.insert(key);  // the receiver would wait for it: the sender starts a new stream
      refusal = channel_error(channel_errc::access_denied,
                              "message " + e.id + " to \"" + e.to + "\": method \"" + std::string(method_of_kind(e.kind)) +
                                  "\" is not among the methods credential " + c.credential_id + " allows (" +
                                  store::join_methods(c.methods) + ")");
    } else if (b->broken.contains(key)) {
      refusal = channel_error(channel_errc::buffer_full, "message " + e.id + " to \"" + e.to +
                                                             "\": an earlier message of its stream was refused");
    } else if (b->out.unacked() + b->pending >= options.max_queue_messages ||
               (b->bytes + b->pending_bytes > 0 && b->bytes + b->pending_bytes + e.body.size() > options.max_queue_bytes)) {
      b->broken.insert(key);
      refusal = channel_error(channel_errc::buffer_full,
                              "message " + e.id + " to \"" + e.to + "\": its queue is full (" +
                                  std::to_string(b->out.unacked() + b->pending) + " messages)");
    }
  }

  commit_item item;
  auto self = shared_from_this();
  if (refusal) {
    note("refused from " + c.name + " (" + c.peer + "): " + refusal->detail(), log_level::warning);
    r.event = "refused";
    r.code = to_string(refusal->reason());
    // Built from checked names and kinds (and printable() where not): whole, not clipped.
    r.detail = refusal->detail();
    item.ops.push_back(log_op(std::move(r), a.principal, {}));
    frames::error err{refusal->reason(), refusal->detail(), e.id};
    std::string from = c.name;
    item.done = [this, from, seq, gen, err = std::move(err)](bool ok, const std::vector<std::uint64_t>&) mutable {
      ++stats.messages_refused;
      committed_in(from, seq, gen, ok);
      endpoint_state& s = state_of(from);
      if (ok && s.connection) send_to(*s.connection, {std::move(err)});
    };
  } else {
    r.event = "forwarded";
    e.sender_methods = c.methods;  // the receiver checks calls against it, whatever the sender wrote
    std::string to_principal = principal_of(e.to);
    item.ops.push_back(log_op(std::move(r), a.principal, to_principal));
    std::int64_t queued_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    std::string doc = next_queue_doc(e.to);
    item.ops.push_back(queue_op(e, doc, queued_ns));
    b->pending += 1;
    b->pending_bytes += e.body.size();
    std::string from = c.name;
    item.done = [this, from, seq, gen, doc = std::move(doc), queued_ns, env = std::move(e)](
                    bool ok, const std::vector<std::uint64_t>& revisions) mutable {
      endpoint_state& rcv = state_of(env.to);
      rcv.pending -= 1;
      rcv.pending_bytes -= env.body.size();
      committed_in(from, seq, gen, ok);
      if (!ok) return;
      ++stats.messages_forwarded;
      // Not into memory when the store is where this hub reads the queue from (stale), or
      // when a reload at a login read it already.
      std::uint64_t revision = revisions.size() > 1 ? revisions[1] : 0;  // [0] is the log record
      if ((rcv.stale && !rcv.connection) || revision <= rcv.loaded_at || rcv.loaded.contains(doc)) return;
      enqueue(rcv, std::move(doc), queued_message{std::move(env), queued_ns});
      pump(rcv);
    };
  }
  submit(std::move(item));
}

// A commit of a message from `from` (link seq) finished: acknowledge it, or on failure
// drop the connection so that the endpoint sends it again.
void hub::impl::committed_in(const std::string& from, std::uint64_t seq, std::uint64_t gen, bool ok) {
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

void hub::impl::flush_acks() {
  for (endpoint_state* a : acks_due) {
    a->ack_due = false;
    if (a->connection) send_to(*a->connection, {frames::ack{a->committed}});
  }
  acks_due.clear();
}

void hub::impl::on_ack(conn& c, const frames::ack& k) {
  endpoint_state& s = *c.state;
  std::size_t n = s.out.on_ack(k.seq);  // bad_ack: protocol failure
  if (n == 0) return;
  std::vector<store_op> ops;
  ops.reserve(n);
  for (std::size_t i = 0; i < n && !s.docs.empty(); ++i) {
    s.bytes -= std::min(s.bytes, s.docs.front().size);
    ops.push_back(remove_queued(std::move(s.docs.front().doc)));
    s.docs.pop_front();
  }
  stats.queued -= std::min(stats.queued, n);
  stats.messages_delivered += n;
  submit(commit_item{std::move(ops), nullptr});
  pump(s);
}

// The receiver's type check (endpoint::expect) refused a body (or another endpoint-side error about a message):
// logged, and passed on to the message's sender when it is online.
void hub::impl::on_peer_error(conn& c, frames::error err) {
  std::string sender = sender_of_id(err.message_id);
  note("error from " + c.name + " about " + xgate::printable(err.message_id) + ": " + to_string(err.code) + ": " +
       xgate::printable(err.reason), log_level::warning);
  log_record r;
  r.event = "rejected";
  r.from = sender;
  r.to = c.name;
  r.id = xgate::printable(err.message_id);
  r.code = to_string(err.code);
  r.detail = xgate::printable(err.reason);
  std::string sp = sender.empty() ? std::string() : principal_of(sender);
  commit_item item{{log_op(std::move(r), c.state->principal, sp)}, nullptr};
  if (!sender.empty()) {
    item.done = [this, sender, err = std::move(err)](bool, const std::vector<std::uint64_t>&) mutable {
      auto it = endpoints.find(sender);
      if (it != endpoints.end() && it->second->connection) send_to(*it->second->connection, {std::move(err)});
    };
  }
  submit(std::move(item));
}

}  // namespace xgate::channel
