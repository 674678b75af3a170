#include <xgate/channel/method.hpp>

#include <sodium.h>

namespace xgate::channel {

namespace {
constexpr std::string_view call_prefix = "call.";

std::string new_call_id() {
  unsigned char b[16];
  randombytes_buf(b, sizeof b);
  static constexpr char hex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char c : b) {
    id += hex[c >> 4];
    id += hex[c & 15];
  }
  return id;
}

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}
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
}

std::function<void(envelope)> methods::on_message(std::function<void(envelope)> rest) {
  return [this, rest = std::move(rest)](envelope e) { route(std::move(e), rest); };
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
void methods::route(envelope e, const std::function<void(envelope)>& rest) {
  if (e.kind.starts_with(call_prefix)) {
    {
      std::lock_guard lock(mutex_);
      calls_.push_back(std::move(e));
    }
    changed_.notify_all();
    return;
  }
  if (e.kind == "reply" || e.kind == "fault") {
    std::lock_guard lock(mutex_);
    auto p = pending_.find(e.correlation);
    if (p != pending_.end()) {
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
    handler h;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || !calls_.empty(); });
      if (stopping_) return;
      call = std::move(calls_.front());
      calls_.pop_front();
      std::string method = call.kind.substr(call_prefix.size());
      auto it = handlers_.find(method);
      if (it != handlers_.end()) h = it->second;
    }
    std::string method = call.kind.substr(call_prefix.size());
    std::string kind = "reply", body;
    method_fault fault;
    if (!h) {
      fault = {"no_method", call.to + " serves no method \"" + method + "\""};
    } else {
      try {
        body = h(call, call_info{call.from, method, call.id});
      } catch (const channel_error& err) {
        fault = {to_string(err.code()), one_line(err.detail())};
      } catch (const std::exception& err) {
        fault = {"remote_failure", one_line(err.what())};
      }
    }
    if (!fault.code.empty()) {
      kind = "fault";
      body = to_xml(fault, encode_options{.indent = 0});
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
  auto p = std::make_shared<pending>();
  {
    std::lock_guard lock(mutex_);
    pending_[call.correlation] = p;  // before sending: the reply may come back at once
  }
  std::string id = call.correlation;
  struct forget {
    methods& m;
    std::string id;
    ~forget() {
      std::lock_guard lock(m.mutex_);
      m.pending_.erase(id);
    }
  } guard{*this, id};
  {
    std::shared_lock bound(bind_mutex_);
    if (!endpoint_) throw channel_error(channel_errc::protocol, "methods: no endpoint bound (call bind() first)");
    endpoint_->send(std::move(call));
  }
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, timeout, [&] { return p->reply.has_value() || stopping_; }) || !p->reply)
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

}  // namespace xgate::channel
