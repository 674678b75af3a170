// The XMPP transport (see xmpp.hpp for the design): per-peer link streams over stanzas, and
// an in-process stand-in for the hub that the endpoint talks to.
#include <xgate/channel/xmpp.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <utility>

#include <xgate/channel/error.hpp>
#include <xgate/channel/detail/link.hpp>
#include <xgate/base/text.hpp>

#include "xmpp_session.hpp"

namespace xgate::channel {

using namespace xmpp_detail;

// ---- names -----------------------------------------------------------------------------
namespace {
// XEP-0106: the characters a localpart may not hold, and the escape character itself.
constexpr std::string_view escaped_chars = " \"&'/:<>@\\";
constexpr const char* hex = "0123456789abcdef";
}  // namespace

std::string xmpp_localpart(std::string_view endpoint) {
  std::string out;
  for (char c : endpoint) {
    if (escaped_chars.find(c) != std::string_view::npos) {
      out += '\\';
      out += hex[(static_cast<unsigned char>(c) >> 4) & 15];
      out += hex[static_cast<unsigned char>(c) & 15];
    } else {
      out += c;
    }
  }
  return out;
}

std::string xmpp_endpoint_name(std::string_view localpart) {
  std::string out;
  for (std::size_t i = 0; i < localpart.size(); ++i) {
    if (localpart[i] == '\\' && i + 2 < localpart.size()) {
      std::uint64_t v = 0;
      if (parse_u64(localpart.substr(i + 1, 2), v, 16) && escaped_chars.find(static_cast<char>(v)) != std::string_view::npos) {
        out += static_cast<char>(v);
        i += 2;
        continue;
      }
    }
    out += localpart[i];
  }
  return out;
}

namespace {
using steady = std::chrono::steady_clock;

bool has_upper(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

std::string hex64(std::uint64_t v) {
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = hex[v & 15];
  return s;
}

// The sender of a message id FROM/STREAM/SEQ ("" when it is not one).
std::string sender_of(std::string_view id) {
  auto last = id.rfind('/');
  if (last == std::string_view::npos || last == 0) return {};
  auto prev = id.rfind('/', last - 1);
  if (prev == std::string_view::npos || prev == 0) return {};
  return std::string(id.substr(0, prev));
}

// What survives a session: every peer's link streams and the endpoint link.
struct core {
  xmpp_url url;
  xmpp_options opt;
  transport_options settings;
  std::string self;  // the endpoint name of the account

  struct partial {
    std::uint64_t lseq = 0;
    std::vector<std::optional<std::string>> parts;
    std::size_t got = 0, bytes = 0;
  };
  struct peer {
    // Bounded by the endpoint's own buffer: the endpoint link holds every message until
    // its receiver acknowledged it.
    link_sender out{new_link_stream(), link_options{SIZE_MAX / 2, SIZE_MAX / 2}};
    std::deque<std::uint64_t> up_seqs;  // the endpoint-link seq of each message in out, in order
    std::uint64_t sent_upto = 0;        // the highest seq of out put on the wire since the last rewind
    steady::time_point last_progress{};
    std::chrono::milliseconds rto{0};
    link_receiver in;
    std::optional<partial> assembling;  // the next message's chunks
    bool asked = false;                 // subscription requested in this session
    bool bounce_reported = false;
  };
  std::map<std::string, peer, std::less<>> peers;

  // The endpoint link: this transport stands in for the hub (xmpp.hpp, DESIGN).
  link up{link_sender(new_link_stream(), link_options{65536, std::size_t{256} << 20}), link_receiver{}};
  std::set<std::uint64_t> outstanding;  // endpoint-link seqs taken but not yet acknowledged by their receiver
  std::uint64_t up_ack_told = 0;

  std::uint64_t up_ack() const {
    return outstanding.empty() ? up.in.received() : *outstanding.begin() - 1;
  }
  std::string jid_of(std::string_view endpoint) const { return xmpp_localpart(endpoint) + "@" + url.domain; }
  peer& peer_of(const std::string& name) {
    auto it = peers.find(name);
    if (it == peers.end()) {
      it = peers.emplace(name, peer{}).first;
      it->second.rto = opt.retransmit;
    }
    return it->second;
  }
};

class xmpp_connection final : public connection {
 public:
  xmpp_connection(std::shared_ptr<core> c, std::shared_ptr<std::mutex> mu) : core_(std::move(c)), mu_(std::move(mu)) {
    s_ = std::make_unique<session>(core_->url, core_->opt.password, core_->opt.ca_file.empty() ? core_->url.ca : core_->opt.ca_file,
                                   core_->settings.connect_timeout);
    if (!s_->up()) {
      refusal_ = s_->refusal();
      s_.reset();
      return;
    }
    s_->on_message = [this](xmpp_stanza_t* st) { on_message(st); };
    s_->on_presence = [this](xmpp_stanza_t* st) { on_presence(st); };
    // A new session: whatever was in flight may be lost, so everything unacknowledged goes
    // again, and every peer hears where we stand.
    std::lock_guard lock(*mu_);
    auto now = steady::now();
    for (auto& [name, p] : core_->peers) {
      p.out.rewind();
      p.sent_upto = p.out.acked();
      p.last_progress = now;
      p.rto = core_->opt.retransmit;
      p.asked = false;
      p.bounce_reported = false;
      if (p.in.stream() != 0) p.in.note_duplicate();
    }
    s_->send("<presence/>");  // initial presence: the server then tells us who is online
    for (auto& b : core_->opt.buddies) ask(b);
    for (auto& b : core_->url.buddies) ask(b);
  }

  ~xmpp_connection() override {
    // Closing runs libstrophe's loop once more: its handlers must not reach this half-destroyed object.
    if (s_) s_->on_message = s_->on_presence = s_->on_iq = nullptr;
  }

  void send(std::vector<frame> frames) override {
    check_open();
    std::lock_guard lock(*mu_);
    for (auto& f : frames) from_endpoint(f);
    pump();
  }

  std::vector<frame> receive(std::chrono::milliseconds timeout) override {
    auto deadline = steady::now() + timeout;
    for (;;) {
      check_open();
      {
        std::lock_guard lock(*mu_);
        pump();
        if (!inbound_.empty()) return std::exchange(inbound_, {});
      }
      if (!s_) throw std::system_error(std::make_error_code(std::errc::connection_reset), description() + ": login refused");
      if (s_->ended()) {
        if (s_->conflict()) {
          // Someone else logged in with this endpoint's name: stop instead of taking it back.
          std::lock_guard lock(*mu_);
          inbound_.emplace_back(frames::refused{channel_errc::bad_auth, "another endpoint logged in as " + core_->url.bare() +
                                                                            "/" + resource + " (XMPP conflict)"});
          return std::exchange(inbound_, {});
        }
        throw std::system_error(std::make_error_code(std::errc::connection_reset), description() + ": " + s_->end_reason());
      }
      if (woken_.exchange(false)) return {};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
      if (left.count() <= 0) return {};
      s_->run_once(std::min(left, std::chrono::milliseconds(10)));
    }
  }

  void wake() override { woken_ = true; }
  void close() noexcept override { closed_ = true; }
  std::string description() const override { return core_->url.url; }

 private:
  void check_open() {
    if (closed_) throw std::system_error(std::make_error_code(std::errc::operation_canceled), description() + ": closed");
  }
  bool live() const { return s_ && s_->up(); }

  // ---- the endpoint's frames (the hub's side of its link) ------------------------------
  void from_endpoint(frame& f) {
    core& c = *core_;
    if (auto* h = std::get_if<frames::hello>(&f)) {
      if (!refusal_.empty()) {
        inbound_.emplace_back(frames::refused{channel_errc::bad_auth, refusal_});
      } else if (h->version != protocol_version) {
        inbound_.emplace_back(frames::refused{channel_errc::bad_version, "protocol version " + std::to_string(h->version) +
                                                                             ", this transport speaks " + std::to_string(protocol_version)});
      } else if (h->endpoint != c.self) {
        inbound_.emplace_back(frames::refused{
            channel_errc::bad_auth, "endpoint \"" + xgate::printable(h->endpoint) + "\" cannot log in as the XMPP account " +
                                        c.url.bare() + ", which is endpoint \"" + c.self + "\" (the account's user is the endpoint's name)"});
      } else {
        hello_ = *h;
        // The XMPP login (SASL over TLS with the account's password) authenticated us:
        // the challenge is a formality the endpoint's protocol expects.
        inbound_.emplace_back(frames::challenge{{}, "xmpp " + c.url.bare()});
      }
      return;
    }
    if (auto* a = std::get_if<frames::auth>(&f)) {
      (void)a;
      if (!hello_) {
        inbound_.emplace_back(frames::refused{channel_errc::protocol, "auth before hello"});
        return;
      }
      if (hello_->link.sending_stream != c.up.in.stream()) c.outstanding.clear();  // a new endpoint object
      c.up.resume(hello_->link);
      c.up_ack_told = c.up_ack();
      inbound_.emplace_back(frames::welcome{link_state{c.up.out.stream(), c.up.in.stream(), c.up_ack_told}});
      frames::presence snap{true, {{c.self, true}}};
      for (auto& name : online_) snap.entries.push_back({name, true});
      inbound_.emplace_back(std::move(snap));
      welcomed_ = true;
      return;
    }
    if (!welcomed_) {
      inbound_.emplace_back(frames::refused{channel_errc::protocol, std::string(kind_name(f)) + " frame before login"});
      return;
    }
    if (auto* m = std::get_if<frames::message>(&f)) {
      if (c.up.in.classify(m->link_seq) != link_receiver::verdict::next) return;  // a resend of what we have
      c.up.in.accept(m->link_seq);
      const std::string to = m->env.to;
      if (has_upper(to)) {
        inbound_.emplace_back(frames::error{channel_errc::bad_envelope,
                                            "\"" + xgate::printable(to) + "\" cannot be an XMPP endpoint: JID localparts are "
                                            "case-insensitive, use lower-case names", m->env.id});
        return;  // not outstanding: acknowledged with the next ack, so it leaves the endpoint's buffer
      }
      auto& p = c.peer_of(to);
      p.out.push(std::move(m->env));
      p.up_seqs.push_back(m->link_seq);
      c.outstanding.insert(m->link_seq);
      ask(to);
    } else if (auto* k = std::get_if<frames::ack>(&f)) {
      c.up.out.on_ack(k->seq);  // bad_ack propagates: the endpoint reconnects
    } else if (auto* pi = std::get_if<frames::ping>(&f)) {
      inbound_.emplace_back(frames::pong{pi->nonce});
    } else if (auto* e = std::get_if<frames::error>(&f)) {
      // A type check (endpoint::expect) refused a message we delivered: its sender hears why.
      std::string to = sender_of(e->message_id);
      if (!to.empty() && live()) {
        std::string x = "<message type='headline' to='";
        append_xml_escaped(x, c.jid_of(to));
        x += "'><x xmlns='";
        x += ns_xgate;
        x += "' error='";
        x += to_string(e->code);
        x += "' about='";
        append_xml_escaped(x, e->message_id);
        x += "'>";
        append_xml_escaped(x, e->reason);
        x += "</x><no-store xmlns='urn:xmpp:hints'/></message>";
        s_->send(x);
      }
    }
  }

  // ---- putting things on the wire -------------------------------------------------------
  void pump() {
    core& c = *core_;
    if (live() && welcomed_) {
      auto now = steady::now();
      if (s_->sending())
        for (auto& [name, p] : c.peers) p.last_progress = now;  // still going out: nothing lost yet
      for (auto& [name, p] : c.peers) {
        if (p.in.ack_due()) send_ack(name, p);
        if (p.out.unacked() == 0) continue;
        std::uint64_t in_flight = p.sent_upto - p.out.acked();
        if (in_flight > 0 && !s_->sending() && now - p.last_progress >= p.rto) {
          // Nothing acknowledged for a while: the peer (or its session) lost something.
          p.out.rewind();
          p.sent_upto = p.out.acked();
          p.rto = std::min(p.rto * 2, c.opt.retransmit_max);
          in_flight = 0;
        }
        if (in_flight < c.opt.window) {
          auto ms = p.out.take(c.opt.window - static_cast<std::size_t>(in_flight));
          if (!ms.empty() && in_flight == 0) p.last_progress = now;
          for (auto& m : ms) {
            send_data(name, p, m);
            p.sent_upto = m.link_seq;
          }
        }
      }
    }
    if (!welcomed_) return;
    for (auto& m : c.up.out.take(1024)) inbound_.emplace_back(std::move(m));
    if (c.up_ack() != c.up_ack_told) {
      c.up_ack_told = c.up_ack();
      inbound_.emplace_back(frames::ack{c.up_ack_told});
    }
  }

  void send_ack(const std::string& name, core::peer& p) {
    frames::ack a = p.in.take_ack();
    std::string x = "<message type='headline' to='";
    append_xml_escaped(x, core_->jid_of(name));
    x += "'><x xmlns='";
    x += ns_xgate;
    x += "' ack='" + std::to_string(a.seq) + "' acklink='" + hex64(p.in.stream()) +
         "'/><no-store xmlns='urn:xmpp:hints'/></message>";
    s_->send(x);
  }

  void send_data(const std::string& name, core::peer& p, const frames::message& m) {
    const envelope& e = m.env;
    bool text = text_safe(e.body);
    std::size_t chunk = std::max<std::size_t>(core_->opt.chunk_bytes, 16);
    std::vector<std::string_view> parts;
    std::string_view body = e.body;
    while (!body.empty()) {
      std::size_t cut = text ? utf8_cut(body, chunk) : std::min(chunk, body.size());
      if (cut == 0) cut = std::min(chunk, body.size());
      parts.push_back(body.substr(0, cut));
      body.remove_prefix(cut);
    }
    if (parts.empty()) parts.emplace_back();
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(e.time.time_since_epoch()).count();
    std::string head = "' link='" + hex64(p.out.stream()) + "' lseq='" + std::to_string(m.link_seq) + "' id='";
    append_xml_escaped(head, e.id);
    head += "' from='";
    append_xml_escaped(head, e.from);
    head += "' to='";
    append_xml_escaped(head, e.to);
    head += "' seq='" + std::to_string(e.seq) + "' kind='";
    append_xml_escaped(head, e.kind);
    head += "'";
    if (!e.correlation.empty()) {
      head += " re='";
      append_xml_escaped(head, e.correlation);
      head += "'";
    }
    head += " time='" + std::to_string(ns) + "' enc='" + (text ? "text" : "base64") + "' parts='" + std::to_string(parts.size());
    std::string to = core_->jid_of(name);
    for (std::size_t i = 0; i < parts.size(); ++i) {
      std::string x;
      x.reserve(parts[i].size() + head.size() + 256);
      x = "<message type='normal' to='";
      append_xml_escaped(x, to);
      x += "' id='";
      append_xml_escaped(x, e.id);
      x += "#" + std::to_string(i) + "'><x xmlns='";
      x += ns_xgate;
      x += head;
      x += "' part='" + std::to_string(i) + "'>";
      if (text)
        append_xml_escaped(x, parts[i]);
      else
        x += base64(parts[i]);
      x += "</x><store xmlns='urn:xmpp:hints'/></message>";
      s_->send(x);
    }
  }

  // Asks name for a subscription (once per session), so that each sees the other's presence.
  void ask(const std::string& name) {
    if (!live() || name == core_->self || has_upper(name) || !is_valid_endpoint(name)) return;
    auto& p = core_->peer_of(name);
    if (p.asked) return;
    p.asked = true;
    std::string x = "<presence type='subscribe' to='";
    append_xml_escaped(x, core_->jid_of(name));
    x += "'/>";
    s_->send(x);
  }

  // ---- stanzas from the server (inside run_once) ----------------------------------------
  std::optional<std::string> peer_name(xmpp_stanza_t* st, std::string* resource_out = nullptr) {
    const char* from = xmpp_stanza_get_from(st);
    if (!from) return std::nullopt;
    jid_parts j = split_jid(from);
    if (j.domain != core_->url.domain || j.node.empty()) return std::nullopt;  // peers live on our domain
    if (resource_out) *resource_out = j.resource;
    std::string name = xmpp_endpoint_name(j.node);
    if (!is_valid_endpoint(name)) return std::nullopt;
    return name;
  }

  void on_message(xmpp_stanza_t* st) {
    std::lock_guard lock(*mu_);
    auto from = peer_name(st);
    if (!from) return;
    xmpp_stanza_t* x = xmpp_stanza_get_child_by_name_and_ns(st, "x", ns_xgate);
    if (!x) return;
    std::string type = attr(st, "type");
    if (type == "error") {
      // The server could not deliver one of ours (e.g. no such account): say so once per
      // session; resends continue, in case it was passing.
      auto& p = core_->peer_of(*from);
      if (!p.bounce_reported && !attr(x, "id").empty()) {
        p.bounce_reported = true;
        std::string cond = "error";
        if (xmpp_stanza_t* err = xmpp_stanza_get_child_by_name(st, "error"))
          if (xmpp_stanza_t* c = xmpp_stanza_get_children(err))
            if (const char* n = xmpp_stanza_get_name(c)) cond = n;
        inbound_.emplace_back(frames::error{channel_errc::protocol,
                                            "the XMPP server could not deliver to \"" + *from + "\" (" + cond + ")", attr(x, "id")});
      }
      return;
    }
    if (const char* ack = xmpp_stanza_get_attribute(x, "ack")) return on_ack(*from, ack, attr(x, "acklink"));
    if (const char* err = xmpp_stanza_get_attribute(x, "error")) {
      auto code = channel_errc_from_string(err).value_or(channel_errc::protocol);
      inbound_.emplace_back(frames::error{code, xgate::printable(text_of(s_->ctx(), x)), attr(x, "about")});
      return;
    }
    if (xmpp_stanza_get_attribute(x, "lseq")) on_data(*from, x);
  }

  void on_ack(const std::string& from, std::string_view ack, std::string_view acklink) {
    std::uint64_t n = 0, stream = 0;
    if (!parse_u64(ack, n) || !parse_u64(acklink, stream, 16)) return;
    auto& p = core_->peer_of(from);
    if (stream == p.out.stream() && n >= p.out.acked()) {
      if (n > p.out.last()) return;  // not ours to believe
      std::size_t k = p.out.on_ack(n);
      for (std::size_t i = 0; i < k && !p.up_seqs.empty(); ++i) {
        core_->outstanding.erase(p.up_seqs.front());
        p.up_seqs.pop_front();
      }
      if (k > 0) {
        p.last_progress = steady::now();
        p.rto = core_->opt.retransmit;
      }
      p.sent_upto = std::max(p.sent_upto, p.out.acked());
    } else {
      // The receiver stands elsewhere (it restarted, or took another of our streams):
      // follow on from where it stands; its inbox drops what it had already.
      p.out.resume(link_state{0, stream, n});
      p.sent_upto = p.out.acked();
      p.last_progress = steady::now();
    }
  }

  void on_data(const std::string& from, xmpp_stanza_t* x) {
    core& c = *core_;
    std::uint64_t stream = 0, lseq = 0, part = 0, parts = 0;
    if (!parse_u64(attr(x, "link"), stream, 16) || stream == 0 || !parse_u64(attr(x, "lseq"), lseq) ||
        !parse_u64(attr(x, "part"), part) || !parse_u64(attr(x, "parts"), parts) || parts == 0 || part >= parts ||
        parts > c.settings.max_frame + 1)
      return;  // not a stanza of ours
    auto& p = c.peer_of(from);
    ask(from);
    if (stream != p.in.stream()) {
      p.in.resume(link_state{stream, 0, 0});
      p.assembling.reset();
    }
    switch (p.in.classify(lseq)) {
      case link_receiver::verdict::duplicate:
        if (part + 1 == parts) p.in.note_duplicate();
        return;
      case link_receiver::verdict::gap: p.in.note_duplicate(); return;  // tells the sender where we stand
      case link_receiver::verdict::next: break;
    }
    if (!p.assembling || p.assembling->lseq != lseq || p.assembling->parts.size() != parts)
      p.assembling = core::partial{lseq, std::vector<std::optional<std::string>>(parts), 0, 0};
    auto& a = *p.assembling;
    if (!a.parts[part]) {
      auto t = part_text(s_->ctx(), x);
      if (!t) return;
      a.bytes += t->size();
      a.parts[part] = std::move(*t);
      ++a.got;
    }
    if (a.got < a.parts.size()) return;
    envelope e = header_of(x);
    e.body.reserve(a.bytes);
    for (auto& s : a.parts) e.body += *s;
    std::string problem;
    if (a.bytes > c.settings.max_frame) problem = "a body of " + std::to_string(a.bytes) + " bytes, beyond the maximum frame";
    try {
      check_envelope(e);
      check_sender(e, from);  // the server authenticated the stanza's sender
      if (e.to != c.self) problem = "addressed to \"" + xgate::printable(e.to) + "\", not to this endpoint";
    } catch (const channel_error& x) {
      problem = x.detail();
    }
    if (problem.empty() && c.up.out.full()) return;  // the endpoint is behind: not taken, resent later
    p.assembling.reset();
    p.in.accept(lseq);  // taken (or refused for good, so that it is not resent forever)
    if (!problem.empty()) {
      inbound_.emplace_back(frames::error{channel_errc::bad_envelope, "dropped a message from \"" + from + "\": " + problem, e.id});
      return;
    }
    c.up.out.push(std::move(e));
  }

  void on_presence(xmpp_stanza_t* st) {
    std::lock_guard lock(*mu_);
    std::string res;
    auto from = peer_name(st, &res);
    if (!from) return;
    std::string type = attr(st, "type");
    std::string bare = core_->jid_of(*from);
    if (type == "subscribe") {
      // Endpoints of one domain are buddies: approve, and ask back.
      std::string x = "<presence type='subscribed' to='";
      append_xml_escaped(x, bare);
      x += "'/>";
      s_->send(x);
      ask(*from);
      return;
    }
    if (!type.empty() && type != "unavailable") return;
    if (res != resource || *from == core_->self) return;
    bool online = type.empty();
    bool changed = online ? online_.insert(*from).second : online_.erase(*from) > 0;
    if (!changed) return;
    if (welcomed_) inbound_.emplace_back(frames::presence{false, {{*from, online}}});
    if (online) {
      // A peer that (re)appeared may have missed what we sent meanwhile: resend at once.
      auto it = core_->peers.find(*from);
      if (it != core_->peers.end() && it->second.out.unacked() > 0) {
        it->second.out.rewind();
        it->second.sent_upto = it->second.out.acked();
        it->second.last_progress = steady::now();
      }
    }
  }

  std::shared_ptr<core> core_;
  std::shared_ptr<std::mutex> mu_;
  std::unique_ptr<session> s_;
  std::string refusal_;
  std::optional<frames::hello> hello_;
  bool welcomed_ = false;
  std::set<std::string> online_;
  std::vector<frame> inbound_;  // for the endpoint
  std::atomic<bool> woken_{false}, closed_{false};
};

class xmpp_transport final : public transport {
 public:
  xmpp_transport(xmpp_url u, xmpp_options o, const transport_options& settings)
      : core_(std::make_shared<core>()), mu_(std::make_shared<std::mutex>()) {
    core_->self = xmpp_endpoint_name(u.user);
    core_->url = std::move(u);
    core_->opt = std::move(o);
    core_->settings = settings;
  }
  std::unique_ptr<connection> connect() override { return std::make_unique<xmpp_connection>(core_, mu_); }
  std::string description() const override { return core_->url.url; }

 private:
  std::shared_ptr<core> core_;
  std::shared_ptr<std::mutex> mu_;
};
}  // namespace

std::unique_ptr<transport> make_xmpp_transport(std::string_view url, xmpp_options options, const transport_options& settings) {
  xmpp_url u = parse_url(url);
  if (options.password.empty())
    throw channel_error(channel_errc::bad_auth, "hub URL \"" + xgate::printable(url) +
                                                    "\": no password for the XMPP account (the endpoint's secret or secret file)");
  if (!is_valid_endpoint(xmpp_endpoint_name(u.user)))
    throw channel_error(channel_errc::protocol, "hub URL \"" + xgate::printable(url) + "\": the user \"" + u.user +
                                                    "\" is not a valid endpoint name");
  return std::make_unique<xmpp_transport>(std::move(u), std::move(options), settings);
}

}  // namespace xgate::channel
