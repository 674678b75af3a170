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
// Versions: a node resumes a checkpoint of its own version of the type, or an older one when
// the state type has an upgrade hook (void xgate_upgrade(State&, unsigned from_version),
// the codec's: bump the state type's XGATE_TYPE version with the job's version). Newer
// versions, and older ones without a hook, are refused (migrate_errc::incompatible_version).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
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
};

template <class State, void (*Body)(job_context&, State&)>
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
  t.run = [](job_context& ctx, checkpoint_header& doc) { Body(ctx, static_cast<checkpoint_doc<State>&>(doc).state); };
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
template <class State, void (*Body)(job_context&, State&)>
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
