#include <xgate/channel/method.hpp>

#include <xgate/base/text.hpp>
#include <xgate/channel/agent.hpp>
#include <xgate/store/credentials.hpp>

#include <sodium.h>

#include "random_hex.hpp"

namespace xgate::channel {

namespace {
constexpr std::string_view call_prefix = "call.";

std::string new_call_id() { return detail::random_hex(16); }

}  // namespace

methods::methods(method_options options) : options_(std::move(options)) {
  if (sodium_init() < 0) throw channel_error(channel_errc::protocol, "libsodium failed to initialize");
  for (std::size_t i = 0; i < std::max<std::size_t>(1, options_.workers); ++i) workers_.emplace_back([this] { work(); });
}

methods::~methods() {
  unbind();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (std::thread& t : workers_) t.join();
  for (auto& [id, r] : readers_)  // they see stopping_ within their receive timeout
    if (r.thread.joinable()) r.thread.join();
}

std::function<void(envelope)> methods::on_message(std::function<void(envelope)> rest) {
  return [this, rest = std::move(rest)](envelope e) { dispatch(std::move(e), rest); };
}

std::function<void(const frames::error&)> methods::on_error(std::function<void(const frames::error&)> rest) {
  return [this, rest = std::move(rest)](const frames::error& err) {
    if (!err.message_id.empty()) {
      std::lock_guard lock(mutex_);
      channel_error failure(err.code, err.reason);
      bool claimed = false;
      for (auto& [id, p] : pending_)
        if (p->message_id == err.message_id) {
          p->failed = failure;
          claimed = true;
          changed_.notify_all();
          break;
        }
      if (!claimed) {
        unclaimed_errors_.emplace_back(err.message_id, failure);
        if (unclaimed_errors_.size() > 64) unclaimed_errors_.pop_front();
      }
    }
    if (rest) rest(err);
  };
}

void methods::bind(endpoint& e) {
  std::unique_lock lock(bind_mutex_);
  endpoint_ = &e;
}

void methods::unbind() {
  std::unique_lock lock(bind_mutex_);
  endpoint_ = nullptr;
}

std::string methods::self() const {
  std::shared_lock bound(bind_mutex_);
  if (!endpoint_) throw channel_error(channel_errc::protocol, "methods: no endpoint bound (call bind() first)");
  return endpoint_->name();
}

std::string methods::call_kind(const std::string& method) {
  std::string kind = std::string(call_prefix) + method;
  if (!is_valid_kind(kind))
    throw channel_error(channel_errc::bad_envelope, "method \"" + method + "\" is not 1..59 of [A-Za-z0-9._-]");
  return kind;
}

void methods::add_handler(std::string method, handler h) {
  call_kind(method);  // checks the name
  std::lock_guard lock(mutex_);
  handlers_[std::move(method)] = std::move(h);
}

// On the endpoint's I/O thread: must not block. Calls queue for a worker; replies wake
// their caller.
void methods::dispatch(envelope e, const std::function<void(envelope)>& rest) {
  if (e.kind.starts_with(call_prefix)) {
    {
      std::lock_guard lock(mutex_);
      calls_.push_back({std::move(e), nullptr});
    }
    changed_.notify_all();
    return;
  }
  if (e.kind == "reply" || e.kind == "fault") {
    std::lock_guard lock(mutex_);
    auto p = pending_.find(e.correlation);
    if (p != pending_.end() && p->second->route_id.empty()) {
      p->second->reply = std::move(e);
      changed_.notify_all();
      return;
    }
    // A reply nobody waits for (the call timed out): nothing to do with it.
    return;
  }
  if (rest) rest(std::move(e));
}

void methods::work() {
  for (;;) {
    envelope call;
    std::shared_ptr<channel::route> via;
    handler h;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || !calls_.empty(); });
      if (stopping_) return;
      call = std::move(calls_.front().call);
      via = std::move(calls_.front().via);
      calls_.pop_front();
      std::string method = call.kind.substr(call_prefix.size());
      auto it = handlers_.find(method);
      if (it != handlers_.end()) h = it->second;
    }
    std::string method = call.kind.substr(call_prefix.size());
    std::string kind = "reply", body;
    method_fault fault;
    if (!kind_permitted(call.kind, call.sender_methods)) {
      // The hub refuses these already; a receiver checks too, as every node must (hub.hpp).
      fault = {"access_denied", call.to + " refuses method \"" + method + "\" from \"" + call.from +
                                    "\": its credential allows only " + store::join_methods(call.sender_methods)};
    } else if (!h) {
      fault = {"no_method", call.to + " serves no method \"" + method + "\""};
    } else {
      try {
        body = h(call, call_info{call.from, method, call.id});
      } catch (const channel_error& err) {
        fault = {to_string(err.reason()), one_line(err.detail())};
      } catch (const std::exception& err) {
        fault = {"remote_failure", one_line(err.what())};
      }
    }
    if (!fault.code.empty()) {
      kind = "fault";
      body = to_xml(fault, encode_options{.indent = 0});
    }
    if (via) {
      try {
        via->send(kind, std::move(body), call.correlation);
      } catch (const std::exception&) {
        // The route broke: its caller hears that from the route itself.
      }
      continue;
    }
    std::shared_lock bound(bind_mutex_);
    if (!endpoint_) continue;  // unbound: the caller times out, as if this node had died
    try {
      endpoint_->send(call.from, kind, std::move(body), call.correlation);
    } catch (const std::exception&) {
      // The endpoint stopped or was refused: the caller times out likewise.
    }
  }
}

envelope methods::exchange(envelope call, const std::string& method, std::chrono::milliseconds timeout) {
  std::string to = call.to;
  call.correlation = new_call_id();
  const std::string id = call.correlation;
  {
    std::lock_guard lock(mutex_);
    pending_[id] = std::make_shared<pending>();  // before sending: the reply may come back at once
  }
  std::string message_id;
  try {
    std::shared_lock bound(bind_mutex_);
    if (!endpoint_) throw channel_error(channel_errc::protocol, "methods: no endpoint bound (call bind() first)");
    message_id = endpoint_->send(std::move(call));
  } catch (...) {
    std::lock_guard lock(mutex_);
    pending_.erase(id);
    throw;
  }
  {
    std::lock_guard lock(mutex_);
    std::shared_ptr<pending>& p = pending_.at(id);
    p->message_id = message_id;
    for (auto it = unclaimed_errors_.begin(); it != unclaimed_errors_.end(); ++it)
      if (it->first == message_id) {
        p->failed = it->second;
        unclaimed_errors_.erase(it);
        break;
      }
  }
  return await_reply(to, method, id, timeout);
}

envelope methods::exchange(const std::shared_ptr<channel::route>& via, envelope call, const std::string& method,
                           std::chrono::milliseconds timeout) {
  attach(via);
  const std::string to = call.to + " (route " + via->id() + ")";
  const std::string id = new_call_id();
  {
    std::lock_guard lock(mutex_);
    auto p = std::make_shared<pending>();
    p->route_id = via->id();
    pending_[id] = std::move(p);
  }
  try {
    via->send(std::move(call.kind), std::move(call.body), id);
  } catch (...) {
    std::lock_guard lock(mutex_);
    pending_.erase(id);
    throw;
  }
  return await_reply(to, method, id, timeout);
}

envelope methods::await_reply(const std::string& to, const std::string& method, const std::string& call_id,
                              std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  std::shared_ptr<pending> p = pending_.at(call_id);
  changed_.wait_for(lock, timeout, [&] { return p->reply || p->failed || stopping_; });
  pending_.erase(call_id);
  if (p->failed && !p->reply) throw channel_error(p->failed->reason(), "call " + method + " on \"" + to + "\": " + p->failed->detail());
  if (!p->reply)
    throw channel_error(channel_errc::timeout, "call " + method + " on \"" + to + "\": no reply within " +
                                                   std::to_string(timeout.count()) + " ms");
  envelope reply = std::move(*p->reply);
  lock.unlock();
  if (reply.kind == "fault") {
    method_fault f;
    try {
      f = from_xml<method_fault>(reply.body);
    } catch (const xgate::error&) {
      f = {"remote_failure", "an unreadable fault"};
    }
    channel_errc code = channel_errc_from_string(f.code).value_or(channel_errc::remote_failure);
    throw channel_error(code, "call " + method + " on \"" + to + "\": " + f.reason);
  }
  return reply;
}

const std::string& methods::far_end(const channel::route& via) { return via.peer(); }

void methods::attach(std::shared_ptr<channel::route> via) {
  std::lock_guard lock(mutex_);
  if (stopping_) return;
  // Readers of routes that ended are joined here, so that a long-lived object does not
  // collect threads.
  for (auto it = readers_.begin(); it != readers_.end();) {
    if (it->second.done) {
      it->second.thread.join();
      it = readers_.erase(it);
    } else {
      ++it;
    }
  }
  auto [it, fresh] = readers_.try_emplace(via->id());
  if (!fresh) return;
  it->second.via = via;
  it->second.thread = std::thread([this, via] { read_route(via); });
}

void methods::read_route(std::shared_ptr<channel::route> via) {
  using namespace std::chrono_literals;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
    }
    std::optional<route_message> m = via->receive(100ms);
    if (!m) {
      if (via->broken()) break;
      continue;
    }
    envelope e;
    e.from = via->peer();
    e.to = via->path().front();
    e.kind = std::move(m->kind);
    e.body = std::move(m->body);
    e.correlation = std::move(m->ref);
    e.id = via->id() + "." + std::to_string(m->seq);
    e.time = std::chrono::system_clock::now();
    std::lock_guard lock(mutex_);
    if (e.kind.starts_with(call_prefix)) {
      calls_.push_back({std::move(e), via});
      changed_.notify_all();
    } else if (e.kind == "reply" || e.kind == "fault") {
      auto p = pending_.find(e.correlation);
      if (p != pending_.end() && p->second->route_id == via->id()) {
        p->second->reply = std::move(e);
        changed_.notify_all();
      }
    }
    // Anything else on a route served by methods is not for them: dropped.
  }
  std::lock_guard lock(mutex_);
  channel_error why = via->error().value_or(
      channel_error(channel_errc::route_broken, "route " + via->id() + ": the methods object stopped reading it"));
  for (auto& [id, p] : pending_)
    if (p->route_id == via->id() && !p->reply) p->failed = why;
  readers_[via->id()].done = true;
  changed_.notify_all();
}

}  // namespace xgate::channel
