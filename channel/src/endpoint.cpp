#include <xgate/channel/endpoint.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>

#include <xgate/channel/detail/auth.hpp>
#include <xgate/channel/detail/link.hpp>
#include <xgate/channel/xmpp.hpp>
#include <xgate/base/secret.hpp>
#include <xgate/base/text.hpp>

namespace xgate::channel {

const char* to_string(endpoint_state s) noexcept {
  switch (s) {
    case endpoint_state::stopped: return "stopped";
    case endpoint_state::connecting: return "connecting";
    case endpoint_state::connected: return "connected";
    case endpoint_state::refused: return "refused";
  }
  return "unknown";
}

namespace {
using steady = std::chrono::steady_clock;

std::string read_secret_file(const std::string& path) {
  xgate::secret_read_result r = xgate::read_secret_file(path);
  if (!r.problem.empty()) throw channel_error(channel_errc::bad_auth, r.problem);
  return std::move(r.value);
}

// The hub refused the login: not worth retrying.
struct login_refused {
  std::string reason;
};
}  // namespace

struct endpoint::impl {
  endpoint_options opt;
  std::unique_ptr<endpoint_credential> cred;
  std::shared_ptr<transport> tr;

  mutable std::mutex mu;
  std::condition_variable cv;  // acks, received messages, state changes, stop
  link lk;
  inbox box;
  pair_stamper stamper;
  std::map<std::string, std::string> stream_to;  // STREAM -> receiver, for buffer_full errors
  std::map<std::string, std::function<void(const envelope&)>, std::less<>> checks;
  std::deque<envelope> received;
  std::set<std::string> online_set;
  endpoint_state state = endpoint_state::stopped;
  std::string last_err;
  std::vector<frames::error> errs;
  connection* conn = nullptr;  // the I/O thread's current connection (for wake and close)
  bool wake_pending = false;
  bool stop_flag = false;
  std::uint64_t connections = 0;
  std::uint64_t ping_nonce = 0;
  std::thread io;

  explicit impl(endpoint_options o)
      : opt(std::move(o)),
        lk{link_sender(new_link_stream(), link_options{opt.max_unacked, opt.max_unacked_bytes}), link_receiver{}},
        stamper(opt.name) {
    if (!is_valid_endpoint(opt.name))
      throw channel_error(channel_errc::bad_envelope, "endpoint name \"" + xgate::printable(opt.name) +
                                                          "\" is not valid (the store's name rules)");
    std::string secret = opt.secret;
    if (secret.empty() && !opt.secret_file.empty()) secret = read_secret_file(opt.secret_file);
    if (secret.empty()) throw channel_error(channel_errc::bad_auth, "endpoint " + opt.name + ": no secret and no secret file");
    cred = std::make_unique<endpoint_credential>(secret);
    if (opt.custom_transport)
      tr = opt.custom_transport;
    else if (opt.hub.starts_with("xmpp://"))  // the secret is the XMPP account's password (xmpp.hpp)
      tr = make_xmpp_transport(opt.hub, xmpp_options{.password = secret}, opt.transport_settings);
    else
      tr = make_transport(opt.hub, opt.transport_settings);
  }

  void wake_locked() {
    if (conn && !wake_pending) {
      wake_pending = true;
      conn->wake();
    }
  }

  std::string send(envelope e) {
    std::unique_lock lock(mu);
    if (state == endpoint_state::refused) throw channel_error(channel_errc::bad_auth, "endpoint " + opt.name + ": " + last_err);
    // Wait for room before stamping: a refused send leaves no hole in its stream.
    if (lk.out.full() && !cv.wait_for(lock, opt.send_timeout, [&] { return !lk.out.full() || stop_flag; }))
      throw channel_error(channel_errc::buffer_full, "endpoint " + opt.name + ": " + std::to_string(lk.out.unacked()) +
                                                         " messages still await the hub's acknowledgement after " +
                                                         std::to_string(opt.send_timeout.count()) + " ms");
    if (lk.out.full()) throw channel_error(channel_errc::buffer_full, "endpoint " + opt.name + ": stopped with a full buffer");
    stamper.stamp(e);
    std::string id = e.id;
    auto stream = std::string(stream_of(e));
    if (!stream_to.contains(stream)) stream_to.emplace(stream, e.to);
    lk.out.push(std::move(e));
    wake_locked();
    return id;
  }

  // ---- the I/O thread ----------------------------------------------------------------
  void run() {
    auto backoff = opt.reconnect_min;
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (stop_flag) return;
        state = endpoint_state::connecting;
      }
      std::unique_ptr<connection> c;
      bool was_connected = false;
      try {
        c = tr->connect();
        {
          std::lock_guard lock(mu);
          if (stop_flag) return;
          conn = c.get();
          ++connections;
        }
        std::vector<frame> rest = login(*c);
        was_connected = true;
        backoff = opt.reconnect_min;
        if (opt.on_connection) opt.on_connection(true);
        serve(*c, std::move(rest));
      } catch (const login_refused& r) {
        std::lock_guard lock(mu);
        conn = nullptr;
        state = endpoint_state::refused;
        last_err = (was_connected ? "the hub ended the session: " : "the hub refused the login: ") + r.reason;
        cv.notify_all();
        if (opt.on_connection) opt.on_connection(false);
        return;
      } catch (const xgate::error& e) {
        std::lock_guard lock(mu);
        last_err = e.what();
        if (e.code() == net_errc::insecure) {
          // TLS refused the hub (its certificate, no protocol in common): a retry fails again.
          conn = nullptr;
          state = endpoint_state::refused;
          cv.notify_all();
          return;
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(mu);
        last_err = e.what();
      }
      {
        std::lock_guard lock(mu);
        conn = nullptr;
        wake_pending = false;
        online_set.clear();
        if (!stop_flag) state = endpoint_state::connecting;
        cv.notify_all();
      }
      c.reset();
      if (was_connected && opt.on_connection) opt.on_connection(false);
      std::unique_lock lock(mu);
      if (cv.wait_for(lock, backoff, [&] { return stop_flag; })) return;
      backoff = std::min(backoff * 2, opt.reconnect_max);
    }
  }

  // Waits for one frame of type T (handshake), keeping anything after it.
  template <class T>
  T expect(connection& c, std::vector<frame>& pending, steady::time_point deadline) {
    for (;;) {
      if (!pending.empty()) {
        frame f = std::move(pending.front());
        pending.erase(pending.begin());
        if (auto* t = std::get_if<T>(&f)) return std::move(*t);
        if (auto* r = std::get_if<frames::refused>(&f)) throw login_refused{std::string(to_string(r->code)) + ": " + r->reason};
        if (auto* e = std::get_if<frames::error>(&f))
          throw channel_error(e->code, "the hub reported during login: " + e->reason);
        throw channel_error(channel_errc::protocol, std::string("the hub sent a ") + kind_name(f) + " frame during login");
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
      if (left.count() <= 0) throw std::system_error(std::make_error_code(std::errc::timed_out), c.description() + ": login timed out");
      {
        std::lock_guard lock(mu);
        if (stop_flag) throw std::system_error(std::make_error_code(std::errc::operation_canceled), "stopped");
      }
      for (auto& f : c.receive(left)) pending.push_back(std::move(f));
    }
  }

  std::vector<frame> login(connection& c) {
    link_state mine;
    {
      std::lock_guard lock(mu);
      mine = lk.state();
    }
    auto deadline = steady::now() + opt.transport_settings.connect_timeout + opt.dead_after;
    c.send({cred->hello(opt.name, mine)});
    std::vector<frame> pending;
    frames::challenge ch = expect<frames::challenge>(c, pending, deadline);
    c.send({cred->respond(ch, opt.name)});
    frames::welcome w = expect<frames::welcome>(c, pending, deadline);
    std::lock_guard lock(mu);
    lk.resume(w.link);  // bad_ack: a hub that claims more than was sent; reconnect
    state = endpoint_state::connected;
    last_err.clear();
    cv.notify_all();
    return pending;
  }

  void serve(connection& c, std::vector<frame> first) {
    auto last_sent = steady::now(), last_heard = steady::now();
    std::vector<frame> extra;  // pongs, type-check refusals
    if (!first.empty()) process(std::move(first), extra);
    for (;;) {
      std::vector<frame> out = std::move(extra);
      extra.clear();
      {
        std::lock_guard lock(mu);
        if (stop_flag) return;
        wake_pending = false;
        if (lk.in.ack_due()) out.emplace_back(lk.in.take_ack());
        for (auto& m : lk.out.take(1024)) out.emplace_back(std::move(m));
        if (lk.out.has_pending()) wake_pending = true;  // more next round, without waiting
      }
      auto now = steady::now();
      if (out.empty() && now - last_sent >= opt.heartbeat) {
        std::lock_guard lock(mu);
        out.emplace_back(frames::ping{++ping_nonce});
      }
      if (!out.empty()) {
        c.send(std::move(out));
        last_sent = now;
      }
      if (now - last_heard >= opt.dead_after)
        throw std::system_error(std::make_error_code(std::errc::timed_out),
                                c.description() + ": nothing heard from the hub for " + std::to_string(opt.dead_after.count()) + " ms");
      std::chrono::milliseconds wait{0};
      std::vector<envelope> adopted;
      {
        std::lock_guard lock(mu);
        if (box.has_unstarted()) box.adopt_unstarted(now, opt.stream_start_grace, adopted);
        if (!wake_pending)
          wait = std::max(std::chrono::milliseconds(1),
                          std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::min(last_sent + opt.heartbeat, last_heard + opt.dead_after) - now));
        // Streams waiting for their start are looked at again soon.
        if (box.has_unstarted()) wait = std::min(wait, std::max(std::chrono::milliseconds(1), opt.stream_start_grace / 10));
      }
      if (!adopted.empty()) deliver(std::move(adopted), {}, {}, extra);
      std::vector<frame> in = c.receive(wait);
      if (!in.empty()) {
        last_heard = steady::now();
        process(std::move(in), extra);
      }
    }
  }

  void process(std::vector<frame> fs, std::vector<frame>& extra) {
    std::vector<envelope> delivered;
    std::vector<frames::presence> presence;
    std::vector<frames::error> errors;
    {
      std::lock_guard lock(mu);
      for (auto& f : fs) {
        if (auto* m = std::get_if<frames::message>(&f)) {
          channel::receive(lk.in, box, std::move(*m), delivered);
        } else if (auto* a = std::get_if<frames::ack>(&f)) {
          if (lk.out.on_ack(a->seq) > 0) cv.notify_all();
        } else if (auto* p = std::get_if<frames::presence>(&f)) {
          if (p->snapshot) online_set.clear();
          for (auto& e : p->entries) {
            if (e.online)
              online_set.insert(e.endpoint);
            else
              online_set.erase(e.endpoint);
          }
          presence.push_back(std::move(*p));
        } else if (auto* pi = std::get_if<frames::ping>(&f)) {
          extra.emplace_back(frames::pong{pi->nonce});
        } else if (std::holds_alternative<frames::pong>(f)) {
        } else if (auto* e = std::get_if<frames::error>(&f)) {
          if ((e->code == channel_errc::buffer_full || e->code == channel_errc::access_denied) && !e->message_id.empty()) {
            // The hub refused a message of this stream: later ones go on a new stream.
            auto slash = e->message_id.rfind('/');
            auto prev = slash == std::string::npos || slash == 0 ? std::string::npos : e->message_id.rfind('/', slash - 1);
            if (prev != std::string::npos) {
              auto it = stream_to.find(e->message_id.substr(prev + 1, slash - prev - 1));
              if (it != stream_to.end()) {
                stamper.restart(it->second);
                stream_to.erase(it);
              }
            }
          }
          if (errs.size() < 1000) errs.push_back(*e);
          errors.push_back(std::move(*e));
        } else if (auto* r = std::get_if<frames::refused>(&f)) {
          throw login_refused{std::string(to_string(r->code)) + ": " + r->reason};
        } else {
          throw channel_error(channel_errc::protocol, std::string("the hub sent a ") + kind_name(f) + " frame after login");
        }
      }
    }
    deliver(std::move(delivered), std::move(presence), std::move(errors), extra);
  }

  // To the application: messages (through the type checks), presence, errors. I/O thread.
  void deliver(std::vector<envelope> delivered, std::vector<frames::presence> presence, std::vector<frames::error> errors,
               std::vector<frame>& extra) {
    // Type checks (expect()): a body that does not pass is not delivered; its sender hears why.
    std::vector<envelope> ok;
    ok.reserve(delivered.size());
    for (auto& e : delivered) {
      std::function<void(const envelope&)> check;
      {
        std::lock_guard lock(mu);
        auto it = checks.find(e.kind);
        if (it != checks.end()) check = it->second;
      }
      if (check) {
        try {
          check(e);
        } catch (const channel_error& x) {
          extra.emplace_back(frames::error{x.reason(), xgate::printable(x.detail()), e.id});
          continue;
        } catch (const std::exception& x) {
          extra.emplace_back(frames::error{channel_errc::bad_body, xgate::printable(x.what()), e.id});
          continue;
        }
      }
      ok.push_back(std::move(e));
    }
    for (auto& p : presence)
      if (opt.on_presence) opt.on_presence(p);
    for (auto& e : errors)
      if (opt.on_error) opt.on_error(e);
    if (opt.on_message) {
      for (auto& e : ok) opt.on_message(std::move(e));
    } else if (!ok.empty()) {
      std::lock_guard lock(mu);
      for (auto& e : ok) received.push_back(std::move(e));
      cv.notify_all();
    }
  }
};

endpoint::endpoint(endpoint_options options) : impl_(std::make_shared<impl>(std::move(options))) {}

endpoint::~endpoint() { stop(); }

void endpoint::start() {
  std::lock_guard lock(impl_->mu);
  if (impl_->io.joinable()) return;
  impl_->stop_flag = false;
  impl_->state = endpoint_state::connecting;
  impl_->io = std::thread([i = impl_.get()] { i->run(); });
}

bool endpoint::wait_connected(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait_for(lock, timeout, [&] {
    return impl_->state == endpoint_state::connected || impl_->state == endpoint_state::refused;
  });
  if (impl_->state == endpoint_state::refused)
    throw channel_error(channel_errc::bad_auth, "endpoint " + impl_->opt.name + ": " + impl_->last_err);
  return impl_->state == endpoint_state::connected;
}

void endpoint::stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop_flag = true;
    if (impl_->conn) impl_->conn->close();
    impl_->cv.notify_all();
  }
  if (impl_->io.joinable()) impl_->io.join();
  std::lock_guard lock(impl_->mu);
  if (impl_->state != endpoint_state::refused) impl_->state = endpoint_state::stopped;
  impl_->online_set.clear();
}

std::string endpoint::send(std::string to, std::string kind, std::string body, std::string correlation) {
  envelope e;
  e.from = impl_->opt.name;
  e.to = std::move(to);
  e.kind = std::move(kind);
  e.correlation = std::move(correlation);
  e.time = std::chrono::system_clock::now();
  e.body = std::move(body);
  detail::check_addressing(e.from, e.to, e.kind);
  std::size_t max_body = impl_->opt.transport_settings.max_frame - 4096;
  if (e.body.size() > max_body)
    throw channel_error(channel_errc::frame_too_large, "endpoint " + impl_->opt.name + ": a body of " +
                                                           std::to_string(e.body.size()) + " bytes to \"" + e.to +
                                                           "\", beyond the maximum of " + std::to_string(max_body));
  return impl_->send(std::move(e));
}

std::string endpoint::send(envelope e) {
  if (e.time == std::chrono::system_clock::time_point{}) e.time = std::chrono::system_clock::now();
  return impl_->send(std::move(e));
}

void endpoint::restart_stream(const std::string& to) {
  std::lock_guard lock(impl_->mu);
  impl_->stamper.restart(to);
}

void endpoint::add_check(std::string kind, std::function<void(const envelope&)> check) {
  std::lock_guard lock(impl_->mu);
  impl_->checks[std::move(kind)] = std::move(check);
}

std::optional<envelope> endpoint::receive(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  if (!impl_->cv.wait_for(lock, timeout, [&] { return !impl_->received.empty(); })) return std::nullopt;
  envelope e = std::move(impl_->received.front());
  impl_->received.pop_front();
  return e;
}

bool endpoint::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->lk.out.unacked() == 0; });
}

std::vector<std::string> endpoint::online() const {
  std::lock_guard lock(impl_->mu);
  return {impl_->online_set.begin(), impl_->online_set.end()};
}

endpoint_state endpoint::state() const {
  std::lock_guard lock(impl_->mu);
  return impl_->state;
}

std::string endpoint::last_error() const {
  std::lock_guard lock(impl_->mu);
  return impl_->last_err;
}

std::vector<frames::error> endpoint::errors() const {
  std::lock_guard lock(impl_->mu);
  return impl_->errs;
}

std::size_t endpoint::unacked() const {
  std::lock_guard lock(impl_->mu);
  return impl_->lk.out.unacked();
}

std::uint64_t endpoint::reconnects() const {
  std::lock_guard lock(impl_->mu);
  return impl_->connections > 0 ? impl_->connections - 1 : 0;
}

const std::string& endpoint::name() const noexcept { return impl_->opt.name; }

}  // namespace xgate::channel
