// Typed method calls: call a named method on a remote endpoint with typed arguments and get a
// typed result back. A result too large for a message travels by reference: make the
// method's result type xgate::results::result_ref (or a type holding one) and the caller
// fetches it from the store with a results_gate.
//
//   xgate::channel::methods m;                          // one per endpoint
//   endpoint ep({..., .on_message = m.on_message()});   // calls and replies go to m
//   m.bind(ep);
//   m.serve<WordCountArgs, WordCountResult>("count", [](const WordCountArgs& a, const call_info&) { ... });
//   WordCountResult r = m.call<WordCountResult>("node-b", "count", args, 5s);
//
// On the wire a call is a message of kind "call.METHOD" whose body is the arguments
// (checked by a message_codec on both sides) and whose correlation is a fresh call id; the
// reply has kind "reply" (the result) or "fault" (a MethodFault: code and reason) and the
// same correlation. A call arriving with a kind outside the caller's credential
// (envelope::sender_methods, stamped by the hub) gets the fault access_denied without reaching
// its handler. Handlers run on the methods object's own worker threads, so they may
// take long and may call other endpoints; replies go out through the bound endpoint.
//
// Lifetime: declare the methods object before its endpoint (the endpoint's I/O thread calls
// into it until the endpoint stops), and unbind() it before the endpoint is destroyed
// (workers may be sending a reply through it).
//
// Calls over a route (agent.hpp), for endpoints on another network behind relay agents:
// call(route, ...) sends the call as a route message (kind "call.METHOD", the call id as its
// ref) and the reply comes back on the route; attach(route) serves calls arriving on a route
// accepted by a router with the same handlers (call_info::caller is the route's origin,
// which each agent on the path vouched for: routes are as trustworthy as their agents). A
// route breaking fails the calls waiting on it with channel_error(route_broken) naming the
// hop, at once rather than at their timeout.
//
// Errors at the caller: channel_error(no_method) when the receiver does not serve the
// method, (wrong_body_type / bad_body) when it refused the arguments, (remote_failure)
// when the handler threw (its message follows), (timeout) when no reply came in time; a
// reply that is not a valid Result is refused like any body.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include <xgate/channel/endpoint.hpp>
#include <xgate/channel/error.hpp>
#include <xgate/channel/frame.hpp>
#include <xgate/channel/message_codec.hpp>

namespace xgate::channel {

class route;

// What a failed call carries back.
struct method_fault {
  std::string code;    // a channel_errc name (no_method, wrong_body_type, bad_body, remote_failure)
  std::string reason;  // one line
};
XGATE_TYPE(method_fault, "xgate.channel.MethodFault", 1, (), (code, reason))

// Who called, for a handler.
struct call_info {
  std::string caller;      // the calling endpoint (authenticated by the hub)
  std::string method;
  std::string message_id;
};

struct method_options {
  message_codec_options codec;        // for arguments and results (principal, rights, keys, strictness)
  std::size_t workers = 2;   // threads running handlers
};

class methods {
 public:
  explicit methods(method_options options = {});
  ~methods();  // stops the workers; pending calls fail with timeout
  methods(const methods&) = delete;
  methods& operator=(const methods&) = delete;

  // The endpoint's on_message: calls and replies are handled here, every other message
  // goes to rest (dropped when rest is empty). Give it to the endpoint before start().
  std::function<void(envelope)> on_message(std::function<void(envelope)> rest = {});
  // The endpoint's on_error: the hub refusing a call (access_denied for a method outside the
  // caller's credential, buffer_full) fails that call at once instead of at its timeout;
  // every error frame then goes on to rest.
  std::function<void(const frames::error&)> on_error(std::function<void(const frames::error&)> rest = {});
  // The endpoint replies and calls go through.
  void bind(endpoint& e);
  // Waits for replies being sent and forgets the endpoint: calls fail, calls received are
  // dropped (their callers time out). The destructor does it too.
  void unbind();

  // Serves method (a kind-safe name: [A-Za-z0-9._-], at most 59 bytes) with fn. Throws
  // channel_error(bad_envelope) for another name.
  template <class Args, class Result>
  void serve(std::string method, std::function<Result(const Args&, const call_info&)> fn) {
    auto args_codec = std::make_shared<message_codec<Args>>(options_.codec);
    add_handler(std::move(method), [args_codec, fn = std::move(fn), codec = options_.codec](const envelope& e,
                                                                                          const call_info& info) {
      Result r = fn(args_codec->open(e), info);
      // Set field by field: designated initializers in a user's build warn under GCC 12's
      // -Wmissing-field-initializers (GCC bug 96868).
      encode_options eo;
      eo.indent = 0;
      eo.rights = codec.rights;
      eo.sign = codec.sign;
      return to_xml(r, eo);
    });
  }

  // Calls method on endpoint `to` and waits up to timeout for its result. Throws the
  // errors listed above ("Errors at the caller"), and channel_error(protocol) when no
  // endpoint is bound.
  template <class Result, class Args>
  Result call(std::string to, const std::string& method, const Args& args, std::chrono::milliseconds timeout) {
    envelope e = message_codec<Args>(options_.codec).make(self(), to, args, call_kind(method));
    envelope reply = exchange(std::move(e), method, timeout);
    return message_codec<Result>(options_.codec).open(reply);
  }

  // Calls method on the far end of an open route (attaching it first).
  template <class Result, class Args>
  Result call(const std::shared_ptr<channel::route>& via, const std::string& method, const Args& args,
              std::chrono::milliseconds timeout) {
    envelope e = message_codec<Args>(options_.codec).make(self(), far_end(*via), args, call_kind(method));
    envelope reply = exchange(via, std::move(e), method, timeout);
    return message_codec<Result>(options_.codec).open(reply);
  }
  // Reads the route until it ends: calls go to the handlers, replies to their callers. One
  // thread per attached route; attaching a route twice is harmless.
  void attach(std::shared_ptr<channel::route> via);

 private:
  using handler = std::function<std::string(const envelope&, const call_info&)>;
  void add_handler(std::string method, handler h);
  static std::string call_kind(const std::string& method);
  std::string self() const;
  static const std::string& far_end(const channel::route& via);
  // Sends a call and waits for its reply; throws for a fault or a timeout.
  envelope exchange(envelope call, const std::string& method, std::chrono::milliseconds timeout);
  envelope exchange(const std::shared_ptr<channel::route>& via, envelope call, const std::string& method,
                    std::chrono::milliseconds timeout);
  envelope await_reply(const std::string& to, const std::string& method, const std::string& call_id,
                       std::chrono::milliseconds timeout);
  void dispatch(envelope e, const std::function<void(envelope)>& rest);
  void read_route(std::shared_ptr<channel::route> via);
  void work();

  struct pending {
    std::optional<envelope> reply;
    std::string route_id;                 // "" for a call through the hub
    std::string message_id;               // of the call message, once sent through the hub
    std::optional<channel_error> failed;  // its route broke
  };
  struct incoming_call {
    envelope call;
    std::shared_ptr<channel::route> via;  // null: came through the hub
  };
  struct route_reader {
    std::shared_ptr<channel::route> via;
    std::thread thread;
    bool done = false;
  };
  method_options options_;
  mutable std::shared_mutex bind_mutex_;  // held shared while sending through endpoint_; never on the I/O thread
  endpoint* endpoint_ = nullptr;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, handler> handlers_;
  std::map<std::string, std::shared_ptr<pending>> pending_;  // by call id (the correlation)
  // Hub errors about messages no pending call claimed yet (it may come back before send()
  // returns the id): the last few, by message id.
  std::deque<std::pair<std::string, channel_error>> unclaimed_errors_;
  std::deque<incoming_call> calls_;                         // waiting for a worker
  std::map<std::string, route_reader> readers_;             // by route id
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace xgate::channel
