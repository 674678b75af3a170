// Jobs: a registered name and version, a reflected state struct and a body.
//
//   struct WordCountState { std::uint64_t offset = 0; std::map<std::string, std::uint64_t> counts; };
//   XGATE_REFLECT(WordCountState, offset, counts)
//
//   void word_count(xgate::job_context& ctx, WordCountState& s) {
//     std::ifstream in(ctx.arg("input")); in.seekg(s.offset);  // re-opened on every entry
//     for (std::string w; in >> w; ) {
//       ++s.counts[w]; s.offset = in.tellg();
//       ctx.checkpoint();                                       // a safe point
//     }
//     ctx.result(s.counts);
//   }
//   XGATE_JOB("word-count", 1, WordCountState, word_count)
//
// THE RULE: everything that must survive a checkpoint lives in the state struct. After a
// suspend, a move or a crash the body is entered again FROM THE TOP with the state of the
// last checkpoint; locals, open files, the call stack and anything computed since that
// checkpoint are gone (native stacks are never shipped: they are neither portable nor safe
// to trust). So at each ctx.checkpoint() the state must describe the work done so far
// exactly, and the body must rebuild its locals from the state and ctx.args().
//
// The body runs as a coroutine (a Boost.Context fiber on its own guarded stack, 512 KiB by
// default), so ctx.checkpoint() may be called from any call depth. Saving, signing and
// writing happen on the node's worker stack while the fiber waits, not on the job's stack.
// The runtime stops a job by throwing from ctx.checkpoint() an exception that is not a
// std::exception: a body must not swallow it with catch (...) without rethrowing.
//
// Arguments: a body may take a third parameter, a described struct of arguments —
//
//   struct WordCountArgs { std::string input; std::uint64_t limit = 0; };
//   XGATE_REFLECT(WordCountArgs, input, limit)
//   void word_count(xgate::job_context& ctx, WordCountState& s, const WordCountArgs& a);
//
// — whose fields are the job's key=value arguments, each a bool, an integer, a floating
// point number, a std::string or an XGATE_ENUM enum, with the struct's default when not
// given. The node checks them at submit (an unknown key or a malformed value is refused with
// bad_argument naming it, before any job exists), `migrate nodes` and `migrate run TYPE
// --help` list them. A body without it reads ctx.args() as strings.
//
// Versions: a node resumes a checkpoint of its own version of the type, or an older one when
// the state type has an upgrade hook (void xgate_upgrade(State&, unsigned from_version),
// the codec's: bump the state type's XGATE_TYPE version with the job's version). Newer
// versions, and older ones without a hook, are refused (migrate_errc::incompatible_version).
#pragma once

#include <atomic>
#include <charconv>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <xgate/migrate/error.hpp>
#include <xgate/migrate/records.hpp>
#include <xgate/results/results.hpp>
#include <xgate/xmlcodec.hpp>

namespace xgate::migrate {

class job_context;

namespace detail {
// What a job context asks of the runtime (implemented by the node's runner).
class job_host {
 public:
  virtual ~job_host() = default;
  virtual void safe_point(job_context& ctx, bool force) = 0;  // may stop the job by throwing
  virtual const std::string* once_find(std::string_view key) = 0;
  virtual void once_record(std::string_view key, std::string xml) = 0;
  virtual void set_result(const std::function<std::string(const encode_options&)>& encode, std::string type) = 0;
};
}  // namespace detail

enum class save { when_due, now };

class job_context {
 public:
  job_context(const job_context&) = delete;
  job_context& operator=(const job_context&) = delete;

  // A safe point: the state is consistent here. The runtime decides whether to save (every
  // node_options::checkpoint_interval, or because a suspend, move or kill is pending, or
  // a ctx.once result waits to be recorded); save::now always saves. Cheap when it does
  // nothing (a counter and a relaxed atomic load), so it may be called per item.
  void checkpoint(save when = save::when_due) {
    ++steps_;
    if (when == save::when_due && steps_ < next_check_ && !attention_->load(std::memory_order_relaxed)) return;
    host_->safe_point(*this, when == save::now);
  }

  // Progress as a fraction 0..1, or done of total. Saved with the next checkpoint; live
  // through node::status.
  void progress(double fraction) { progress_.store(fraction < 0 ? 0 : fraction > 1 ? 1 : fraction, std::memory_order_relaxed); }
  void progress(std::uint64_t done, std::uint64_t total) {
    progress(total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total));
  }

  // Runs fn at most once per job and key and returns its value (an xgate-encodable type, or
  // void); later calls, in this run or in any run resumed from a checkpoint taken after it,
  // return the recorded value without calling fn.
  //
  // What "exactly once" means here: fn's value is recorded in the same store transaction as
  // the next checkpoint, and recording it makes the next safe point save. Once that
  // checkpoint is committed, fn never runs again for this job, on any node. If the node
  // dies after fn ran but before that commit (between fn and the next ctx.checkpoint(),
  // plus one store write), the job resumes from an earlier checkpoint and fn runs again.
  // So effects are exactly once when the node does not die inside that window, and at least
  // once in every case: an effect that must never repeat should be idempotent under
  // once_token(key), which is the same on every run of the job.
  template <class F>
  std::invoke_result_t<F&> once(std::string_view key, F&& fn) {
    using R = std::invoke_result_t<F&>;
    if (const std::string* recorded = host_->once_find(key)) {
      if constexpr (std::is_void_v<R>) return;
      else {
        // Set, not designated: GCC 12 warns about designated initializers in users' -Wextra
        // builds (-Wmissing-field-initializers, GCC bug 96868).
        decode_options o;
        o.document_name = "once \"" + std::string(key) + "\"";
        return from_xml<R>(*recorded, o);
      }
    }
    if constexpr (std::is_void_v<R>) {
      fn();
      host_->once_record(key, {});
    } else {
      R value = fn();
      encode_options o;
      o.indent = 0;
      o.declaration = false;
      host_->once_record(key, to_xml(value, o));
      return value;
    }
  }
  // A stable identity for the effect of once(key): "JOB/KEY".
  std::string once_token(std::string_view key) const { return id_ + "/" + std::string(key); }

  // Stores value as the job's result (jobs/ID/result, with the submitter's rights); the job
  // completes when the body returns. Callers reach it through node::result (a result_ref).
  template <class T>
  void result(const T& value) {
    host_->set_result([&value](const encode_options& o) { return to_xml(value, o); }, results::detail::type_of<T>());
  }

  // The job's key=value arguments, as submitted.
  const std::map<std::string, std::string>& args() const noexcept { return *args_; }
  std::string arg(std::string_view key) const;  // migrate_error(bad_argument) when missing
  std::string arg(std::string_view key, std::string_view fallback) const;
  std::uint64_t arg_u64(std::string_view key, std::uint64_t fallback) const;  // bad_argument when not a number

  const std::string& id() const noexcept { return id_; }
  const std::string& node() const noexcept { return node_; }
  std::uint64_t steps() const noexcept { return steps_; }  // safe points passed, across moves
  double progress() const noexcept { return progress_.load(std::memory_order_relaxed); }
  // True when this entry of the body restores a checkpoint the job saved while running
  // (false on the first entry after submit).
  bool resumed() const noexcept { return resumed_; }

 private:
  friend class runner_access;
  job_context(detail::job_host& host, const std::atomic<bool>& attention, std::string id, std::string node,
              const std::map<std::string, std::string>& args)
      : host_(&host), attention_(&attention), id_(std::move(id)), node_(std::move(node)), args_(&args) {}

  detail::job_host* host_;
  const std::atomic<bool>* attention_;
  std::string id_, node_;
  const std::map<std::string, std::string>* args_;
  std::uint64_t steps_ = 0;
  std::uint64_t next_check_ = 0;  // below this step count, checkpoint() returns at once
  std::atomic<double> progress_{0};
  bool resumed_ = false;
};

// The runtime's access to a context (not for jobs).
class runner_access {
 public:
  static std::unique_ptr<job_context> make(detail::job_host& host, const std::atomic<bool>& attention, std::string id,
                                           std::string node, const std::map<std::string, std::string>& args) {
    return std::unique_ptr<job_context>(new job_context(host, attention, std::move(id), std::move(node), args));
  }
  static std::uint64_t& steps(job_context& c) { return c.steps_; }
  static std::uint64_t& next_check(job_context& c) { return c.next_check_; }
  static bool& resumed(job_context& c) { return c.resumed_; }
};

// One declared argument, as `migrate nodes` and `migrate run TYPE --help` show it.
struct job_argument {
  std::string name;
  std::string type;           // "bool", "int", "uint", "number", "string", or an enum's "a|b|c"
  std::string default_value;  // the args struct's default, as text
};

namespace detail {
template <class T>
std::string argument_type() {
  if constexpr (std::is_same_v<T, bool>) return "bool";
  else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) return "int";
  else if constexpr (std::is_integral_v<T>) return "uint";
  else if constexpr (std::is_floating_point_v<T>) return "number";
  else if constexpr (std::is_same_v<T, std::string>) return "string";
  else if constexpr (described_enum<T>) {
    std::string names;
    boost::mp11::mp_for_each<boost::describe::describe_enumerators<T>>(
        [&](auto d) { names += (names.empty() ? "" : "|") + std::string(d.name); });
    return names;
  } else {
    static_assert(sizeof(T) == 0, "xgate: a job argument is a bool, an integer, a floating point number, a std::string or an XGATE_ENUM enum");
  }
}

template <class T>
std::string argument_text(const T& v) {
  if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
  else if constexpr (std::is_same_v<T, std::string>) return v;
  else if constexpr (described_enum<T>) return std::string(enum_to_name(v));
  else {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
  }
}

// False when text is not a T (or out of T's range).
template <class T>
bool parse_argument(const std::string& text, T& out) {
  if constexpr (std::is_same_v<T, bool>) {
    if (text == "true" || text == "1") return out = true, true;
    if (text == "false" || text == "0") return out = false, true;
    return false;
  } else if constexpr (std::is_same_v<T, std::string>) {
    out = text;
    return true;
  } else if constexpr (described_enum<T>) {
    return enum_from_name(text, out);
  } else {
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return !text.empty() && ec == std::errc{} && ptr == end;
  }
}

// What a value of T must be, for a refusal: "an integer from 0 to 255".
template <class T>
std::string argument_expectation() {
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  else if constexpr (std::is_integral_v<T>)
    return "an integer from " + std::to_string(std::numeric_limits<T>::min()) + " to " + std::to_string(std::numeric_limits<T>::max());
  else if constexpr (std::is_floating_point_v<T>) return "a number";
  else return "one of " + argument_type<T>();
}

template <class Args>
std::vector<job_argument> declare_arguments() {
  std::vector<job_argument> out;
  const Args defaults{};
  for_each_field<Args>([&](const auto& f) {
    using M = typename std::remove_cvref_t<decltype(f)>::member_type;
    out.push_back({std::string(f.name), argument_type<M>(), argument_text(defaults.*(f.pointer))});
  });
  return out;
}

// Refusals name the job type's arguments; thrown from the node's submit and from the body's entry.
[[noreturn]] void refuse_argument(std::string_view job, std::string_view type, const std::vector<job_argument>& declared,
                                  const std::string& key, const std::string* value, std::string_view expected);

template <class Args>
Args parse_arguments(const std::map<std::string, std::string>& given, std::string_view job, std::string_view type) {
  Args a{};
  for (const auto& given_one : given) {
    // Named references, not a structured binding: clang 14 cannot capture those in the lambda.
    const std::string& key = given_one.first;
    const std::string& value = given_one.second;
    bool known = false;
    for_each_field<Args>([&](const auto& f) {
      if (known || f.name != key) return;
      known = true;
      using M = typename std::remove_cvref_t<decltype(f)>::member_type;
      if (!parse_argument(value, a.*(f.pointer)))
        refuse_argument(job, type, declare_arguments<Args>(), key, &value, argument_expectation<M>());
    });
    if (!known) refuse_argument(job, type, declare_arguments<Args>(), key, nullptr, {});
  }
  return a;
}

template <class F>
struct body_of {
  static_assert(sizeof(F) == 0, "xgate: a job body is void(job_context&, State&) or void(job_context&, State&, const Args&)");
  using args = void;
};
template <class State>
struct body_of<void (*)(job_context&, State&)> {
  using args = void;
};
template <class State, class Args>
struct body_of<void (*)(job_context&, State&, const Args&)> {
  using args = Args;
};
}  // namespace detail

// A job type, type-erased. The state lives inside a checkpoint_doc<State>, so saving encodes
// it where it is, without a copy.
struct job_type {
  std::string name;
  unsigned version = 1;
  std::string state_type;        // the state's xgate type name
  bool upgrades_older = false;   // the state has an xgate_upgrade hook
  std::shared_ptr<checkpoint_header> (*make)() = nullptr;  // a checkpoint_doc<State>, default state
  void (*encode)(const checkpoint_header& doc, std::string& out, const encode_options&) = nullptr;
  std::shared_ptr<checkpoint_header> (*decode)(std::string_view xml, const decode_options&) = nullptr;
  void (*run)(job_context&, checkpoint_header& doc) = nullptr;
  // Declared arguments (a body taking const Args&); check_arguments throws
  // migrate_error(bad_argument) for an unknown key or a malformed value. Null: undeclared.
  std::vector<job_argument> arguments;
  void (*check_arguments)(const std::map<std::string, std::string>& given, std::string_view job,
                          std::string_view type) = nullptr;
  std::string library;  // the job library (`migrate node --jobs`) it came from; "" built into the program
};

// Body: void(job_context&, State&) or void(job_context&, State&, const Args&).
template <class State, auto Body>
job_type make_job_type(std::string name, unsigned version) {
  static_assert(reflected<State>, "xgate: a job's state must be described with XGATE_TYPE or XGATE_REFLECT");
  static_assert(std::is_default_constructible_v<State>, "xgate: a job's state must be default-constructible");
  job_type t;
  t.name = std::move(name);
  t.version = version;
  t.state_type = std::string(type_name_v<State>);
  t.upgrades_older = xgate::detail::has_upgrade_hook<State>;
  t.make = [] { return std::shared_ptr<checkpoint_header>(std::make_shared<checkpoint_doc<State>>()); };
  t.encode = [](const checkpoint_header& doc, std::string& out, const encode_options& o) {
    to_xml(static_cast<const checkpoint_doc<State>&>(doc), out, o);
  };
  t.decode = [](std::string_view xml, const decode_options& o) {
    auto doc = std::make_shared<checkpoint_doc<State>>();
    from_xml(xml, *doc, o);
    return std::shared_ptr<checkpoint_header>(std::move(doc));
  };
  using Args = typename detail::body_of<decltype(Body)>::args;
  if constexpr (std::is_void_v<Args>) {
    t.run = [](job_context& ctx, checkpoint_header& doc) { Body(ctx, static_cast<checkpoint_doc<State>&>(doc).state); };
  } else {
    static_assert(reflected<Args>, "xgate: a job's arguments must be described with XGATE_TYPE or XGATE_REFLECT");
    static_assert(std::is_default_constructible_v<Args>, "xgate: a job's arguments must be default-constructible");
    t.arguments = detail::declare_arguments<Args>();
    t.check_arguments = [](const std::map<std::string, std::string>& given, std::string_view job, std::string_view type) {
      (void)detail::parse_arguments<Args>(given, job, type);
    };
    t.run = [](job_context& ctx, checkpoint_header& doc) {
      const Args args = detail::parse_arguments<Args>(ctx.args(), ctx.id(), doc.type);
      Body(ctx, static_cast<checkpoint_doc<State>&>(doc).state, args);
    };
  }
  return t;
}

// Job types by name. XGATE_JOB registers in global(); a node may be given its own registry
// (tests: a node lacking a type, or hosting another version).
class job_registry {
 public:
  job_registry() = default;
  job_registry(const job_registry&) = delete;
  job_registry& operator=(const job_registry&) = delete;
  static job_registry& global();

  // std::logic_error for a second type under a name already registered.
  void add(job_type type);
  const job_type* find(std::string_view name) const;
  std::vector<const job_type*> all() const;  // by name
  // The type that resumes a checkpoint of `name` at `version`, or migrate_error
  // (unknown_job_type, incompatible_version) naming the job and the node.
  const job_type& accept(std::string_view name, unsigned version, std::string_view job, std::string_view node) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, job_type, std::less<>> types_;
};

namespace detail {
template <class State, auto Body>
struct auto_job {
  auto_job(const char* name, unsigned version) { job_registry::global().add(make_job_type<State, Body>(name, version)); }
};
}  // namespace detail

}  // namespace xgate::migrate

namespace xgate {
using migrate::job_context;  // the name the job examples and migrate/README.md use
}

// XGATE_JOB("name", version, State, body): registers a job type in job_registry::global().
// At namespace scope, once, in a file linked into every program hosting the job (an OBJECT
// library, so the registration is not dropped by the linker).
#define XGATE_JOB(NAME, VERSION, STATE, BODY)                                                        \
  [[maybe_unused]] static const ::xgate::migrate::detail::auto_job<STATE, &BODY> XGATE_DETAIL_REG_NAME( \
      xgate_job_, __COUNTER__){NAME, VERSION};
