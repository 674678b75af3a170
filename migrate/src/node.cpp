#include <xgate/migrate/node.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include <boost/context/fiber.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>

#if defined(__SANITIZE_ADDRESS__)
#define XGATE_MIGRATE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XGATE_MIGRATE_ASAN 1
#endif
#endif
#ifdef XGATE_MIGRATE_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace xgate::migrate {

namespace bc = boost::context;
using steady = std::chrono::steady_clock;
using sysclock = std::chrono::system_clock;

namespace {

// Thrown from a safe point to unwind a job's body when the runtime stops it. Not a
// std::exception, so bodies catching std::exception do not swallow it.
struct job_stop {};

// ASan must be told about every stack switch (Debian's Boost.Context is built for fcontext,
// whose fibers do not announce themselves), or it takes the job's stack for a wild one.
#ifdef XGATE_MIGRATE_ASAN
void start_switch(void** fake, const void* bottom, std::size_t size) { __sanitizer_start_switch_fiber(fake, bottom, size); }
void finish_switch(void* fake, const void** bottom, std::size_t* size) { __sanitizer_finish_switch_fiber(fake, bottom, size); }
#else
void start_switch(void**, const void*, std::size_t) {}
void finish_switch(void*, const void**, std::size_t*) {}
#endif

// protected_fixedsize_stack that remembers where the stack is (for the sanitizer hooks).
struct recording_stack {
  bc::protected_fixedsize_stack inner;
  bc::stack_context* out;
  bc::stack_context allocate() { return *out = inner.allocate(); }
  void deallocate(bc::stack_context& s) noexcept { inner.deallocate(s); }
};

enum class request_kind { suspend, handoff, kill, abandon };
enum class end_kind { none, done, failed, suspended, handed_off, killed, stale, abandoned };
enum class commit_kind { checkpoint, suspend, handoff, done, failed, killed };

struct request {
  request_kind kind;
  std::string to;  // handoff target
  std::promise<void> done;
};

std::string q(std::string_view s) { return "\"" + std::string(s) + "\""; }

// The key name in a document's signature element ("" when unsigned or malformed).
std::string signer_of(std::string_view xml) {
  constexpr std::string_view head = "<xg:signature alg=\"ed25519ph\" key=\"";
  std::size_t at = xml.rfind(head);
  if (at == std::string_view::npos) return {};
  std::string_view rest = xml.substr(at + head.size());
  std::size_t end = rest.find('"');
  if (end == std::string_view::npos || end > 200) return {};
  return std::string(rest.substr(0, end));
}

std::string fresh_id() {
  static std::mutex m;
  static std::mt19937_64 gen{std::random_device{}()};
  std::lock_guard lock(m);
  char buf[20];
  std::snprintf(buf, sizeof buf, "j-%016llx", static_cast<unsigned long long>(gen()));
  return buf;
}

log_kind log_kind_of(commit_kind k) {
  switch (k) {
    case commit_kind::checkpoint: return log_kind::checkpoint;
    case commit_kind::suspend: return log_kind::suspended;
    case commit_kind::handoff: return log_kind::moved;
    case commit_kind::done: return log_kind::done;
    case commit_kind::failed: return log_kind::failed;
    case commit_kind::killed: return log_kind::killed;
  }
  return log_kind::checkpoint;
}

}  // namespace

struct run;

struct worker_thread {
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::shared_ptr<run>> queue;
  std::atomic<std::size_t> queued{0};
  bool stopping = false;
  std::thread thread;
};

// One job hosted on this node: its state, its fiber, and what it is asked to do.
struct run final : detail::job_host {
  node::impl& n;
  std::string id;
  const job_type* type = nullptr;
  std::shared_ptr<checkpoint_header> doc;  // a checkpoint_doc<State>: the header and the live state
  job_record record;                       // as this node last wrote it
  std::uint64_t record_revision = 0;
  std::unique_ptr<job_context> ctx;
  std::atomic<bool> attention{false};      // a request waits: stop at the next safe point
  worker_thread* worker = nullptr;

  // Used only by the fiber and its worker, never at the same time.
  bc::fiber fiber, back;
  bc::stack_context stack;                 // the fiber's stack
  const void* worker_bottom = nullptr;     // the worker's stack, for the sanitizer hooks
  std::size_t worker_size = 0;
  void* fake_stack = nullptr;
  bool stop = false;                       // the worker's answer at a safe point
  bool force_save = false;
  std::map<std::string, std::string> pending_once;  // recorded since the last checkpoint
  std::optional<std::string> result_xml;
  std::string result_type;
  bool body_threw = false;
  std::string body_error;
  steady::time_point next_save, slice_end, last_check;
  std::uint64_t stride = 1;                // safe points between clock reads

  // Guarded by node::impl::m.
  std::unique_ptr<request> pending;
  end_kind ended = end_kind::none;
  std::string error;
  bool started = false;
  steady::time_point started_at, stopped_at;
  std::size_t last_bytes = 0;

  explicit run(node::impl& owner) : n(owner) {}
  void safe_point(job_context& c, bool force) override;
  // From the worker into the fiber, until it yields or ends.
  void enter() {
    void* fake = nullptr;
    start_switch(&fake, static_cast<char*>(stack.sp) - stack.size, stack.size);
    fiber = std::move(fiber).resume();
    finish_switch(fake, nullptr, nullptr);
  }
  const std::string* once_find(std::string_view key) override {
    std::string k(key);
    if (auto it = doc->once.find(k); it != doc->once.end()) return &it->second;
    if (auto it = pending_once.find(k); it != pending_once.end()) return &it->second;
    return nullptr;
  }
  void once_record(std::string_view key, std::string xml) override {
    pending_once[std::string(key)] = std::move(xml);
    runner_access::next_check(*ctx) = 0;  // the next safe point records it
  }
  void set_result(const std::function<std::string(const encode_options&)>& encode, std::string type) override;
};

struct node::impl {
  store::session& s;
  std::string principal;  // the runtime's principal in the store
  node_options opt;
  signing_key key;
  const job_registry* jobs;

  std::mutex m;
  std::condition_variable cv;  // a run started or ended
  std::map<std::string, std::shared_ptr<run>, std::less<>> runs;
  std::vector<std::unique_ptr<worker_thread>> workers;
  std::atomic<unsigned> next_worker{0};

  impl(job_store& store, node_options o)
      : s(store),
        principal(store.principal()),
        opt(checked(std::move(o))),
        key(opt.key ? *opt.key : signing_key::generate(opt.name)),
        jobs(opt.jobs ? opt.jobs : &job_registry::global()) {
    if (opt.workers == 0) opt.workers = 1;
  }

  // Before the key is made from the name (which has its own, less telling, rules).
  static node_options checked(node_options o) {
    if (!is_valid_principal(o.name) || o.name.empty() || o.name.find('/') != std::string::npos)
      throw migrate_error(migrate_errc::bad_argument, "", "bad node name " + q(o.name));
    return o;
  }

  // Rights of the runtime's documents about a job: the runtime owns them; the job's readers
  // may read them.
  xgate::rights store_rights(const job_rights& r) const {
    xgate::rights out = xgate::rights::owned_by(principal);
    out.read = {"creator"};
    for (const std::string& p : r.read) out.read.push_back(p == "creator" ? r.submitter : p);
    for (const std::string& p : r.write) out.read.push_back(p == "creator" ? r.submitter : p);
    std::sort(out.read.begin() + 1, out.read.end());
    out.read.erase(std::unique(out.read.begin() + 1, out.read.end()), out.read.end());
    return out;
  }

  void publish_key() {
    verify_key pub = key.public_key();
    std::vector<unsigned char> mine(pub.bytes().begin(), pub.bytes().end());
    for (int attempt = 0; attempt < 8; ++attempt) {
      node_keys k;
      k.node = opt.name;
      store::write_options wo;
      try {
        store::document d = s.read(node_key_name(opt.name));
        k = from_xml<node_keys>(d.xml, {.principal = principal, .document_name = node_key_name(opt.name)});
        if (!k.keys.empty() && k.keys.front() == mine) return;
        wo.expected_revision = d.info.revision;
      } catch (const store::store_error& e) {
        if (e.code() != store::store_errc::not_found) throw;
        wo.expected_revision = 0;
      }
      std::erase(k.keys, mine);
      k.keys.insert(k.keys.begin(), mine);
      try {
        s.write(node_key_name(opt.name), to_xml(k, {.rights = xgate::rights::owned_by(principal).readers({"*"})}), wo);
        return;
      } catch (const store::store_error& e) {
        if (e.code() != store::store_errc::conflict) throw;
      }
    }
  }

  std::pair<job_record, std::uint64_t> read_record(std::string_view id) {
    try {
      store::document d = s.read(job_name(id));
      return {from_xml<job_record>(d.xml, {.principal = principal, .document_name = job_name(id)}), d.info.revision};
    } catch (const store::store_error& e) {
      if (e.code() == store::store_errc::not_found) throw migrate_error(migrate_errc::unknown_job, id, "no such job");
      throw;
    }
  }

  void check_right(const job_record& r, std::string_view who, xgate::right right, std::string_view what) {
    if (!r.rights.allows(who, right))
      throw migrate_error(migrate_errc::access_denied, r.id,
                          "principal " + q(who) + " lacks the " + to_string(right) + " right to " + std::string(what) +
                              " it (submitted by " + q(r.rights.submitter) + ")");
  }

  job_status status_of(const job_record& r) {
    job_status st;
    st.id = r.id;
    st.type = r.type;
    st.version = r.version;
    st.state = r.state;
    st.node = r.node;
    st.epoch = r.epoch;
    st.steps = r.steps;
    st.progress = r.progress;
    st.submitter = r.rights.submitter;
    st.submitted = r.submitted;
    st.last_checkpoint = r.checkpointed;
    st.has_result = r.has_result;
    st.error = r.error;
    std::lock_guard lock(m);
    if (auto it = runs.find(r.id); it != runs.end() && it->second->ended == end_kind::none && r.node == opt.name &&
                                    r.state == job_state::running)
      st.progress = it->second->ctx->progress();
    return st;
  }

  std::shared_ptr<run> hosted(std::string_view id) {
    std::lock_guard lock(m);
    auto it = runs.find(id);
    if (it == runs.end() || it->second->ended != end_kind::none)
      throw migrate_error(migrate_errc::not_here, id, "the job is not running on node " + q(opt.name));
    return it->second;
  }

  // The checkpoint the record names, verified with its writer's keys and checked against the record.
  std::shared_ptr<checkpoint_header> load_checkpoint(const job_record& r, const job_type& t, std::size_t* bytes) {
    const std::string where = checkpoint_name(r.id);
    store::document d;
    try {
      d = s.read(where);
    } catch (const store::store_error& e) {
      if (e.code() != store::store_errc::not_found) throw;
      throw migrate_error(migrate_errc::bad_checkpoint, r.id, where + " is missing");
    }
    if (bytes) *bytes = d.xml.size();
    // Verified with the keys of the node the record says wrote it; failing that, with the
    // keys of the node the signature names, so that a genuine but replayed checkpoint is
    // refused for what it is (an older epoch) rather than as a forgery.
    std::shared_ptr<checkpoint_header> doc;
    std::string failure;
    bool known = false;
    for (const std::string& signer : {r.checkpoint_node, signer_of(d.xml)}) {
      if (signer.empty() || (!failure.empty() && signer == r.checkpoint_node)) continue;
      node_keys keys;
      try {
        store::document k = s.read(node_key_name(signer));
        keys = from_xml<node_keys>(k.xml, {.principal = principal, .document_name = node_key_name(signer)});
        known = true;
      } catch (const store::store_error& e) {
        if (e.code() != store::store_errc::not_found) throw;
        continue;
      }
      for (const auto& bytes32 : keys.keys) {
        if (bytes32.size() != 32) continue;
        std::array<unsigned char, 32> b{};
        std::copy(bytes32.begin(), bytes32.end(), b.begin());
        verify_key vk(signer, b);
        try {
          doc = t.decode(d.xml, {.principal = principal, .verify = &vk, .document_name = where});
          break;
        } catch (const signature_error& e) {
          if (failure.empty()) failure = e.what();
        } catch (const xgate::error& e) {
          throw migrate_error(migrate_errc::bad_checkpoint, r.id, std::string("cannot load the checkpoint: ") + e.what());
        }
      }
      if (doc) break;
    }
    if (!known)
      throw migrate_error(migrate_errc::unknown_node, r.id,
                          where + " was written by node " + q(r.checkpoint_node) + ", whose key the store does not know (" +
                              node_key_name(r.checkpoint_node) + " is missing)");
    if (!doc)
      throw migrate_error(migrate_errc::bad_checkpoint, r.id,
                          "checkpoint refused: it does not verify with the keys of node " + q(r.checkpoint_node) + ": " +
                              failure);
    auto mismatch = [&](const std::string& what) {
      return migrate_error(migrate_errc::bad_checkpoint, r.id, where + " does not belong to the job record: " + what);
    };
    if (doc->job != r.id) throw mismatch("it is a checkpoint of job " + q(doc->job));
    if (doc->type != r.type || doc->version != r.version)
      throw mismatch("it is " + doc->type + " version " + std::to_string(doc->version) + ", the record says " + r.type +
                     " version " + std::to_string(r.version));
    if (doc->epoch != r.epoch)
      throw migrate_error(migrate_errc::stale_epoch, r.id,
                          "checkpoint refused: " + where + " is from epoch " + std::to_string(doc->epoch) +
                              ", the job is at epoch " + std::to_string(r.epoch));
    if (doc->seq != r.checkpoint_seq)
      throw migrate_error(migrate_errc::stale_epoch, r.id,
                          "checkpoint refused: " + where + " is checkpoint " + std::to_string(doc->seq) +
                              ", the job's current one is " + std::to_string(r.checkpoint_seq));
    if (doc->node != r.checkpoint_node) throw mismatch("it names node " + q(doc->node) + " as its writer");
    if (!(doc->rights == r.rights)) throw mismatch("its rights differ from the record's");
    return doc;
  }

  std::shared_ptr<run> make_run(const job_type& t, std::shared_ptr<checkpoint_header> doc, job_record rec,
                                std::uint64_t revision) {
    auto r = std::make_shared<run>(*this);
    r->id = rec.id;
    r->type = &t;
    r->doc = std::move(doc);
    r->record = std::move(rec);
    r->record_revision = revision;
    r->ctx = runner_access::make(*r, r->attention, r->id, opt.name, r->doc->args);
    runner_access::steps(*r->ctx) = r->doc->steps;
    runner_access::resumed(*r->ctx) = r->doc->seq > 1;
    r->ctx->progress(r->doc->progress);
    return r;
  }

  void start(const std::shared_ptr<run>& r) {
    run* p = r.get();
    p->fiber = bc::fiber(std::allocator_arg, recording_stack{bc::protected_fixedsize_stack(opt.stack_size), &p->stack},
                         [this, p](bc::fiber&& back) {
      finish_switch(nullptr, &p->worker_bottom, &p->worker_size);
      p->back = std::move(back);
      auto now = steady::now();
      p->next_save = now + opt.checkpoint_interval;
      p->slice_end = now + opt.time_slice;
      p->last_check = now;
      {
        std::lock_guard lock(m);
        p->started = true;
        p->started_at = now;
      }
      cv.notify_all();
      try {
        p->type->run(*p->ctx, *p->doc);
      } catch (const job_stop&) {
      } catch (const std::exception& e) {
        p->body_threw = true;
        p->body_error = e.what();
      } catch (...) {
        p->body_threw = true;
        p->body_error = "an exception that is not a std::exception";
      }
      start_switch(nullptr, p->worker_bottom, p->worker_size);  // this stack is done
      return std::move(p->back);
    });
    {
      std::lock_guard lock(m);
      runs[r->id] = r;
    }
    worker_thread& w = *workers[next_worker++ % workers.size()];
    p->worker = &w;
    enqueue(r);
  }

  void enqueue(const std::shared_ptr<run>& r) {
    worker_thread& w = *r->worker;
    {
      std::lock_guard lock(w.m);
      w.queue.push_back(r);
      ++w.queued;
    }
    w.cv.notify_one();
  }

  void work(worker_thread& w) {
    for (;;) {
      std::shared_ptr<run> r;
      {
        std::unique_lock lock(w.m);
        w.cv.wait(lock, [&] { return !w.queue.empty() || w.stopping; });
        if (w.queue.empty()) return;
        r = std::move(w.queue.front());
        w.queue.pop_front();
        --w.queued;
      }
      r->enter();
      if (!r->fiber) finished(*r);
      else at_safe_point(r);
    }
  }

  void end(run& r, end_kind k, std::string error = {}) {
    std::unique_ptr<request> req;
    {
      std::lock_guard lock(m);
      r.ended = k;
      r.error = std::move(error);
      req = std::move(r.pending);
      r.attention = false;
    }
    if (req) {
      // The job ended before it reached a safe point for this request.
      if (req->kind == request_kind::handoff)
        req->done.set_exception(std::make_exception_ptr(
            migrate_error(migrate_errc::wrong_state, r.id, "the job ended on node " + q(opt.name) + " before it could move")));
      else
        req->done.set_value();
    }
    r.doc.reset();  // the state is in the store now; keep only the outcome
    cv.notify_all();
  }

  // Unwinds the body from its safe point.
  void stop_fiber(run& r) {
    r.stop = true;
    while (r.fiber) r.enter();  // a body that caught job_stop meets it again
  }

  void finished(run& r) {
    try {
      if (r.body_threw) {
        commit(r, commit_kind::failed, {}, r.body_error);
        end(r, end_kind::failed, r.body_error);
      } else {
        commit(r, commit_kind::done);
        end(r, end_kind::done);
      }
    } catch (const migrate_error& e) {
      end(r, e.code() == migrate_errc::stale_epoch ? end_kind::stale : end_kind::failed, e.what());
    } catch (const std::exception& e) {
      // The store failed: the record still says running here; resume (force) recovers it.
      end(r, end_kind::failed, e.what());
    }
  }

  void at_safe_point(const std::shared_ptr<run>& rp) {
    run& r = *rp;
    std::unique_ptr<request> req;
    {
      std::lock_guard lock(m);
      req = std::move(r.pending);
      r.attention = false;
      if (req) r.stopped_at = steady::now();
    }
    if (req) {
      if (req->kind == request_kind::abandon) {
        stop_fiber(r);
        req->done.set_value();
        end(r, end_kind::abandoned);
        return;
      }
      try {
        commit_kind ck = req->kind == request_kind::suspend ? commit_kind::suspend
                         : req->kind == request_kind::handoff ? commit_kind::handoff
                                                              : commit_kind::killed;
        commit(r, ck, req->to);
      } catch (const migrate_error& e) {
        if (e.code() == migrate_errc::stale_epoch) {
          stop_fiber(r);
          req->done.set_exception(std::current_exception());
          end(r, end_kind::stale, e.what());
          return;
        }
        req->done.set_exception(std::current_exception());
        enqueue(rp);
        return;
      } catch (...) {
        // Not saved: the job keeps running here and the requester learns why.
        req->done.set_exception(std::current_exception());
        enqueue(rp);
        return;
      }
      stop_fiber(r);
      end(r, req->kind == request_kind::suspend ? end_kind::suspended
             : req->kind == request_kind::handoff ? end_kind::handed_off
                                                  : end_kind::killed);
      req->done.set_value();
      return;
    }
    if (r.force_save || !r.pending_once.empty() || steady::now() >= r.next_save) {
      try {
        commit(r, commit_kind::checkpoint);
      } catch (const migrate_error& e) {
        if (e.code() == migrate_errc::stale_epoch) {
          stop_fiber(r);
          end(r, end_kind::stale, e.what());
          return;
        }
        r.next_save = steady::now() + opt.checkpoint_interval;  // tried again at the next interval
      } catch (const std::exception&) {
        r.next_save = steady::now() + opt.checkpoint_interval;
      }
    }
    enqueue(rp);
  }

  // Writes the job's record with (for checkpoints) its checkpoint, a log entry and (done)
  // its result, in one batch that compares-and-sets the record's revision.
  void commit(run& r, commit_kind kind, const std::string& to = {}, const std::string& error = {}) {
    const auto now = sysclock::now();
    job_record rec = r.record;
    const bool write_checkpoint = kind == commit_kind::checkpoint || kind == commit_kind::suspend || kind == commit_kind::handoff;
    const std::uint64_t epoch = rec.epoch + (kind == commit_kind::handoff ? 1 : 0);
    const xgate::rights rights = store_rights(rec.rights);
    const std::uint64_t steps = r.ctx->steps();
    const double progress = r.ctx->progress();
    std::string checkpoint_xml;
    if (write_checkpoint) {
      checkpoint_header& h = *r.doc;
      h.epoch = epoch;
      h.seq = rec.checkpoint_seq + 1;
      h.node = opt.name;
      h.steps = steps;
      h.progress = progress;
      h.written = now;
      for (auto& [k, v] : r.pending_once) h.once[k] = v;
      r.type->encode(h, checkpoint_xml, {.indent = 0, .rights = rights, .sign = &key});
      rec.checkpoint_seq = h.seq;
      rec.checkpoint_node = opt.name;
      rec.checkpointed = now;
    }
    rec.epoch = epoch;
    rec.steps = steps;
    rec.progress = progress;
    rec.updated = now;
    std::string detail;
    switch (kind) {
      case commit_kind::checkpoint: rec.state = job_state::running; break;
      case commit_kind::suspend: rec.state = job_state::suspended; break;
      case commit_kind::handoff:
        rec.state = job_state::suspended;
        rec.node = to;
        detail = "to " + to;
        break;
      case commit_kind::done: rec.state = job_state::done; break;
      case commit_kind::failed:
        rec.state = job_state::failed;
        rec.error = error;
        detail = error;
        break;
      case commit_kind::killed: rec.state = job_state::killed; break;
    }
    if (write_checkpoint) detail += (detail.empty() ? "" : ", ") + ("checkpoint " + std::to_string(rec.checkpoint_seq) + ", " +
                                                                    std::to_string(checkpoint_xml.size()) + " bytes");
    log_entry e{++rec.log_seq, log_kind_of(kind), opt.name, epoch, steps, detail, now};
    store::batch b;
    const std::size_t bytes = checkpoint_xml.size();
    if (write_checkpoint) b.write(checkpoint_name(r.id), std::move(checkpoint_xml));
    if (kind == commit_kind::done && r.result_xml) {
      rec.has_result = true;
      rec.result_type = r.result_type;
      b.write(result_name(r.id), std::move(*r.result_xml));
      r.result_xml.reset();
    }
    const std::size_t record_index = b.size();
    b.write(job_name(r.id), to_xml(rec, {.indent = 0, .rights = rights}), {.expected_revision = r.record_revision});
    b.write(log_name(r.id, rec.log_seq), to_xml(e, {.indent = 0, .rights = rights}));
    std::vector<store::document_info> infos;
    try {
      infos = s.apply(b);
    } catch (const store::store_error& ex) {
      if (ex.code() != store::store_errc::conflict) throw;
      std::string now_at = "it was changed by another node";
      try {
        auto [cur, rev] = read_record(r.id);
        now_at = "the job is at epoch " + std::to_string(cur.epoch) + " on node " + q(cur.node) + " (" +
                 to_string(cur.state) + ")";
      } catch (const std::exception&) {
      }
      throw migrate_error(migrate_errc::stale_epoch, r.id,
                          "checkpoint of node " + q(opt.name) + " refused: " + now_at + ", " + opt.name + " held epoch " +
                              std::to_string(r.record.epoch));
    }
    r.record = std::move(rec);
    r.record_revision = infos[record_index].revision;
    r.pending_once.clear();
    r.force_save = false;
    r.next_save = steady::now() + opt.checkpoint_interval;
    if (write_checkpoint) {
      std::lock_guard lock(m);
      r.last_bytes = bytes;
    }
  }

  // Posts a request to a job running here and waits until its safe point has handled it.
  void request_and_wait(std::string_view id, request_kind kind, std::string to = {}) {
    std::shared_ptr<run> r = hosted(id);
    std::future<void> f;
    {
      std::lock_guard lock(m);
      if (r->ended != end_kind::none)
        throw migrate_error(migrate_errc::not_here, id, "the job is not running on node " + q(opt.name));
      if (r->pending)
        throw migrate_error(migrate_errc::wrong_state, id, "another suspend, move or kill of the job is in progress");
      r->pending = std::make_unique<request>(request{kind, std::move(to), {}});
      f = r->pending->done.get_future();
      r->attention = true;
    }
    f.get();
  }
};

void run::safe_point(job_context& c, bool force) {
  auto now = steady::now();
  // Read the clock about every 0.2 to 2 ms, however long a step takes.
  auto since = now - last_check;
  if (since < std::chrono::microseconds(200) && stride < (std::uint64_t{1} << 20)) stride *= 2;
  else if (since > std::chrono::milliseconds(2) && stride > 1) stride /= 2;
  last_check = now;
  bool need = force || attention.load(std::memory_order_relaxed) || !pending_once.empty() || now >= next_save ||
              (now >= slice_end && worker->queued.load(std::memory_order_relaxed) > 0);
  if (need) {
    force_save = force;
    start_switch(&fake_stack, worker_bottom, worker_size);
    back = std::move(back).resume();  // to the worker, which saves, stops or reschedules us
    finish_switch(fake_stack, &worker_bottom, &worker_size);
    if (stop) throw job_stop{};
    now = steady::now();
    slice_end = now + n.opt.time_slice;
    last_check = now;
  }
  runner_access::next_check(c) = runner_access::steps(c) + stride;
}

void run::set_result(const std::function<std::string(const encode_options&)>& encode, std::string type) {
  encode_options o;
  o.rights = n.store_rights(record.rights);
  result_xml = encode(o);
  result_type = std::move(type);
}

// ---- node --------------------------------------------------------------------------------

node::node(job_store& store, node_options options) : impl_(std::make_shared<impl>(store, std::move(options))) {
  impl_->publish_key();
  for (unsigned i = 0; i < impl_->opt.workers; ++i) impl_->workers.push_back(std::make_unique<worker_thread>());
  for (auto& w : impl_->workers) w->thread = std::thread([i = impl_.get(), w = w.get()] { i->work(*w); });
}

node::~node() {
  impl& n = *impl_;
  // Abandon every job at its next safe point, without saving: what a crash leaves behind.
  std::vector<std::future<void>> waits;
  {
    std::lock_guard lock(n.m);
    for (auto& [id, r] : n.runs) {
      if (r->ended != end_kind::none) continue;
      if (r->pending) {
        // A request in flight: fail it, as a crash would.
        r->pending->done.set_exception(std::make_exception_ptr(
            migrate_error(migrate_errc::not_here, id, "node " + q(n.opt.name) + " stopped")));
      }
      r->pending = std::make_unique<request>(request{request_kind::abandon, {}, {}});
      waits.push_back(r->pending->done.get_future());
      r->attention = true;
    }
  }
  {
    std::unique_lock lock(n.m);
    n.cv.wait(lock, [&] {
      return std::all_of(n.runs.begin(), n.runs.end(), [](const auto& kv) { return kv.second->ended != end_kind::none; });
    });
  }
  for (auto& w : n.workers) {
    {
      std::lock_guard lock(w->m);
      w->stopping = true;
    }
    w->cv.notify_all();
  }
  for (auto& w : n.workers) w->thread.join();
}

const std::string& node::name() const noexcept { return impl_->opt.name; }
verify_key node::public_key() const { return impl_->key.public_key(); }
const job_registry& node::jobs() const noexcept { return *impl_->jobs; }

std::string node::submit(std::string_view type, std::map<std::string, std::string> args, std::string_view principal,
                         submit_options options) {
  impl& n = *impl_;
  std::string id = options.id.empty() ? fresh_id() : options.id;
  const job_type* t = n.jobs->find(type);
  if (!t)
    throw migrate_error(migrate_errc::unknown_job_type, id,
                        "node " + q(n.opt.name) + " does not host job type " + q(type));
  if (principal.empty() || !is_valid_principal(principal))
    throw migrate_error(migrate_errc::access_denied, id, "an anonymous or invalid principal cannot submit jobs");
  const auto now = sysclock::now();
  job_record rec;
  rec.id = id;
  rec.type = t->name;
  rec.version = t->version;
  rec.state = job_state::running;
  rec.node = n.opt.name;
  rec.epoch = 1;
  rec.checkpoint_seq = 1;
  rec.checkpoint_node = n.opt.name;
  rec.rights = options.rights ? *options.rights : job_rights::owned_by(std::string(principal));
  rec.rights.submitter = std::string(principal);
  rec.args = std::move(args);
  rec.log_seq = 1;
  rec.submitted = rec.updated = rec.checkpointed = now;

  std::shared_ptr<checkpoint_header> doc = t->make();
  doc->job = id;
  doc->type = t->name;
  doc->version = t->version;
  doc->epoch = 1;
  doc->seq = 1;
  doc->node = n.opt.name;
  doc->rights = rec.rights;
  doc->args = rec.args;
  doc->written = now;
  const xgate::rights rights = n.store_rights(rec.rights);
  std::string ck;
  t->encode(*doc, ck, {.indent = 0, .rights = rights, .sign = &n.key});
  log_entry e{1, log_kind::submitted, n.opt.name, 1, 0, "by " + std::string(principal), now};
  store::batch b;
  b.write(checkpoint_name(id), std::move(ck), {.expected_revision = 0});
  b.write(job_name(id), to_xml(rec, {.indent = 0, .rights = rights}), {.expected_revision = 0});
  b.write(log_name(id, 1), to_xml(e, {.indent = 0, .rights = rights}));
  std::vector<store::document_info> infos;
  try {
    infos = n.s.apply(b);
  } catch (const store::store_error& ex) {
    if (ex.code() == store::store_errc::conflict)
      throw migrate_error(migrate_errc::wrong_state, id, "a job with this id exists already");
    throw;
  }
  n.start(n.make_run(*t, std::move(doc), std::move(rec), infos[1].revision));
  return id;
}

job_status node::suspend(std::string_view id, std::string_view principal) {
  impl& n = *impl_;
  auto [rec, rev] = n.read_record(id);
  n.check_right(rec, principal, xgate::right::write, "suspend");
  n.request_and_wait(id, request_kind::suspend);
  return n.status_of(n.read_record(id).first);
}

void node::suspend_all() {
  std::vector<std::future<void>> waits;
  for (const std::string& id : hosted()) {
    // All asked at once, so each job stops at its own next safe point in parallel.
    std::shared_ptr<run> r;
    try {
      r = impl_->hosted(id);
    } catch (const migrate_error&) {
      continue;  // ended meanwhile
    }
    std::lock_guard lock(impl_->m);
    if (r->ended != end_kind::none || r->pending) continue;
    r->pending = std::make_unique<request>(request{request_kind::suspend, {}, {}});
    waits.push_back(r->pending->done.get_future());
    r->attention = true;
  }
  for (auto& w : waits) {
    try {
      w.get();
    } catch (const std::exception&) {
      // not saved (the store failed): its record still names this node; resume --force recovers it
    }
  }
}

job_status node::kill(std::string_view id, std::string_view principal) {
  impl& n = *impl_;
  auto [rec, rev] = n.read_record(id);
  n.check_right(rec, principal, xgate::right::write, "kill");
  if (rec.state == job_state::running && rec.node == n.opt.name) {
    n.request_and_wait(id, request_kind::kill);
    return n.status_of(n.read_record(id).first);
  }
  if (rec.state != job_state::suspended)
    throw migrate_error(migrate_errc::wrong_state, id,
                        std::string("the job is ") + to_string(rec.state) +
                            (rec.state == job_state::running ? " on node " + q(rec.node) + "; kill it there" : ""));
  // A suspended job is killed by its record alone.
  rec.state = job_state::killed;
  rec.updated = sysclock::now();
  log_entry e{++rec.log_seq, log_kind::killed, n.opt.name, rec.epoch, rec.steps, "while suspended", rec.updated};
  const xgate::rights rights = n.store_rights(rec.rights);
  store::batch b;
  b.write(job_name(id), to_xml(rec, {.indent = 0, .rights = rights}), {.expected_revision = rev});
  b.write(log_name(id, rec.log_seq), to_xml(e, {.indent = 0, .rights = rights}));
  n.s.apply(b);
  return n.status_of(rec);
}

job_status node::handoff(std::string_view id, std::string_view to, std::string_view principal) {
  impl& n = *impl_;
  auto [rec, rev] = n.read_record(id);
  n.check_right(rec, principal, xgate::right::write, "move");
  if (to == n.opt.name) throw migrate_error(migrate_errc::wrong_state, id, "the job runs on node " + q(to) + " already");
  try {
    n.s.info(node_key_name(to));
  } catch (const store::store_error& e) {
    if (e.code() != store::store_errc::not_found) throw;
    throw migrate_error(migrate_errc::unknown_node, id, "no node " + q(to) + " (" + node_key_name(to) + " is missing)");
  }
  n.request_and_wait(id, request_kind::handoff, std::string(to));
  return n.status_of(n.read_record(id).first);
}

job_status node::resume(std::string_view id, std::string_view principal, resume_options options) {
  // The record and the checkpoint are read apart: a live owner (force) may checkpoint in
  // between, which shows as a refusal here while the record's revision moved. Then again.
  for (int attempt = 0;; ++attempt) {
    std::uint64_t seen = impl_->read_record(id).second;
    try {
      return resume_once(id, principal, options);
    } catch (const migrate_error& e) {
      if (attempt >= 20 || (e.code() != migrate_errc::stale_epoch && e.code() != migrate_errc::bad_checkpoint) ||
          impl_->read_record(id).second == seen)
        throw;
    }
  }
}

job_status node::resume_once(std::string_view id, std::string_view principal, const resume_options& options) {
  impl& n = *impl_;
  auto [rec, rev] = n.read_record(id);
  n.check_right(rec, principal, xgate::right::write, "resume");
  {
    std::lock_guard lock(n.m);
    if (auto it = n.runs.find(id); it != n.runs.end() && it->second->ended == end_kind::none)
      throw migrate_error(migrate_errc::wrong_state, id, "the job runs on node " + q(n.opt.name) + " already");
  }
  if (options.handed_epoch != 0 &&
      !(rec.state == job_state::suspended && rec.node == n.opt.name && rec.epoch == options.handed_epoch))
    throw migrate_error(migrate_errc::stale_epoch, id,
                        "the job is no longer handed to node " + q(n.opt.name) + " under epoch " +
                            std::to_string(options.handed_epoch) + ": it is " + to_string(rec.state) + " on node " +
                            q(rec.node) + " (epoch " + std::to_string(rec.epoch) + ")");
  if (rec.state == job_state::running && !options.force)
    throw migrate_error(migrate_errc::wrong_state, id,
                        "the job is running on node " + q(rec.node) + " (epoch " + std::to_string(rec.epoch) +
                            "); take it over with force only when that node is dead");
  if (rec.state != job_state::running && rec.state != job_state::suspended)
    throw migrate_error(migrate_errc::wrong_state, id, std::string("the job is ") + to_string(rec.state));
  const job_type& t = n.jobs->accept(rec.type, rec.version, id, n.opt.name);
  std::shared_ptr<checkpoint_header> doc = n.load_checkpoint(rec, t, nullptr);
  const bool handed_here = rec.state == job_state::suspended && rec.node == n.opt.name && rec.checkpoint_node != n.opt.name;
  const auto now = sysclock::now();
  const std::string from = rec.node;
  // Handed to this node: the handoff bumped the epoch already. Anything else is a new owner.
  if (!(rec.state == job_state::suspended && rec.node == n.opt.name)) ++rec.epoch;
  rec.state = job_state::running;
  rec.node = n.opt.name;
  rec.version = t.version;
  rec.updated = now;
  log_entry e{++rec.log_seq, log_kind::resumed, n.opt.name, rec.epoch, rec.steps,
              handed_here ? "from " + rec.checkpoint_node
                          : "from checkpoint " + std::to_string(rec.checkpoint_seq) + " of node " + rec.checkpoint_node +
                                (options.force ? " (taken over from " + from + ")" : ""),
              now};
  const xgate::rights rights = n.store_rights(rec.rights);
  store::batch b;
  b.write(job_name(id), to_xml(rec, {.indent = 0, .rights = rights}), {.expected_revision = rev});
  b.write(log_name(id, rec.log_seq), to_xml(e, {.indent = 0, .rights = rights}));
  std::vector<store::document_info> infos;
  try {
    infos = n.s.apply(b);
  } catch (const store::store_error& ex) {
    if (ex.code() != store::store_errc::conflict) throw;
    throw migrate_error(migrate_errc::stale_epoch, id, "another node took the job while node " + q(n.opt.name) + " resumed it");
  }
  // The state's version is this node's from now on (an upgrade ran while decoding).
  doc->version = t.version;
  job_status st = n.status_of(rec);
  n.start(n.make_run(t, std::move(doc), std::move(rec), infos[0].revision));
  return st;
}

move_report node::move(std::string_view id, node& to, std::string_view principal) {
  impl& n = *impl_;
  auto [rec, rev] = n.read_record(id);
  n.check_right(rec, principal, xgate::right::write, "move");
  if (&to == this) throw migrate_error(migrate_errc::wrong_state, id, "the job runs on node " + q(name()) + " already");
  std::shared_ptr<run> r = n.hosted(id);
  // Refused before the job is touched: it keeps running here.
  to.jobs().accept(rec.type, rec.version, id, to.name());
  n.request_and_wait(id, request_kind::handoff, to.name());
  move_report m;
  m.id = std::string(id);
  m.from = name();
  m.to = to.name();
  steady::time_point stopped;
  {
    std::lock_guard lock(n.m);
    stopped = r->stopped_at;
    m.checkpoint_bytes = r->last_bytes;
  }
  job_status st = to.resume(id, principal);
  m.epoch = st.epoch;
  impl& b = *to.impl_;
  std::unique_lock lock(b.m);
  auto it = b.runs.find(id);
  b.cv.wait(lock, [&] { return it->second->started || it->second->ended != end_kind::none; });
  m.downtime = std::chrono::duration_cast<std::chrono::nanoseconds>(it->second->started_at - stopped);
  return m;
}

job_status node::status(std::string_view id, std::string_view principal) {
  impl& n = *impl_;
  job_record rec = n.read_record(id).first;
  n.check_right(rec, principal, xgate::right::read, "see");
  return n.status_of(rec);
}

std::vector<job_status> node::list(std::string_view principal) {
  impl& n = *impl_;
  std::vector<job_status> out;
  for (const store::document_info& d : n.s.list("jobs")) {
    std::string_view rest = std::string_view(d.name).substr(5);
    if (rest.find('/') != std::string_view::npos) continue;  // checkpoints, results, logs
    try {
      job_record rec = n.read_record(rest).first;
      if (rec.rights.allows(principal, xgate::right::read)) out.push_back(n.status_of(rec));
    } catch (const migrate_error&) {
      // removed meanwhile
    }
  }
  return out;
}

job_status node::wait(std::string_view id, std::string_view principal, std::chrono::milliseconds timeout) {
  impl& n = *impl_;
  job_record rec = n.read_record(id).first;
  n.check_right(rec, principal, xgate::right::read, "see");
  std::shared_ptr<run> r;
  {
    std::unique_lock lock(n.m);
    auto it = n.runs.find(id);
    if (it != n.runs.end()) {
      r = it->second;
      n.cv.wait_for(lock, timeout, [&] { return r->ended != end_kind::none; });
      if (r->ended == end_kind::stale) throw migrate_error(migrate_errc::stale_epoch, id, r->error);
    }
  }
  return n.status_of(n.read_record(id).first);
}

results::result_ref node::result(std::string_view id, std::string_view principal, results::grant_options grant) {
  impl& n = *impl_;
  job_record rec = n.read_record(id).first;
  n.check_right(rec, principal, xgate::right::read, "read the result of");
  if (rec.state != job_state::done || !rec.has_result)
    throw migrate_error(migrate_errc::wrong_state, id,
                        std::string("the job has no result (it is ") + to_string(rec.state) + ")");
  if (grant.label.empty()) grant.label = "result of job " + std::string(id) + " for " + std::string(principal);
  return results::reference(n.s, result_name(id), grant, rec.result_type);
}

std::vector<log_entry> node::log(std::string_view id, std::string_view principal) {
  impl& n = *impl_;
  job_record rec = n.read_record(id).first;
  n.check_right(rec, principal, xgate::right::read, "read the log of");
  std::vector<log_entry> out;
  for (const store::document_info& d : n.s.list(log_prefix(id))) {
    store::document doc = n.s.read(d.name);
    out.push_back(from_xml<log_entry>(doc.xml, {.principal = n.principal, .document_name = d.name}));
  }
  return out;
}

std::vector<std::string> node::hosted() const {
  std::lock_guard lock(impl_->m);
  std::vector<std::string> out;
  for (const auto& [id, r] : impl_->runs)
    if (r->ended == end_kind::none) out.push_back(id);
  return out;
}

std::optional<std::chrono::steady_clock::time_point> node::stopped_at(std::string_view id) const {
  std::lock_guard lock(impl_->m);
  auto it = impl_->runs.find(id);
  if (it == impl_->runs.end() || it->second->stopped_at == steady::time_point{}) return std::nullopt;
  return it->second->stopped_at;
}

bool node::wait_started(std::string_view id, std::chrono::milliseconds timeout) {
  impl& n = *impl_;
  std::unique_lock lock(n.m);
  auto it = n.runs.find(id);
  if (it == n.runs.end()) return false;
  std::shared_ptr<run> r = it->second;
  n.cv.wait_for(lock, timeout, [&] { return r->started || r->ended != end_kind::none; });
  return r->started;
}

}  // namespace xgate::migrate
