// Scheduling: each worker thread runs its queue of job fibers in turn. At a safe point the
// job yields to its worker, which handles a pending request, saves when due (epoch.cpp
// writes) and requeues the job, or finishes it when its body returned.
#include "node_impl.hpp"

#include <algorithm>

namespace xgate::migrate {

std::shared_ptr<run> node::impl::hosted(std::string_view id) {
  std::lock_guard lock(m);
  auto it = runs.find(id);
  if (it == runs.end() || it->second->ended != end_kind::none)
    throw migrate_error(migrate_errc::not_here, id, "the job is not running on node " + q(opt.name));
  return it->second;
}

std::shared_ptr<run> node::impl::make_run(const job_type& t, std::shared_ptr<checkpoint_header> doc, job_record rec,
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

void node::impl::start(const std::shared_ptr<run>& r) {
  run* p = r.get();
  p->fiber.emplace(opt.stack_size, [this, p] {
    auto now = steady::now();
    p->next_save = now + opt.checkpoint_interval;
    p->slice_end = now + opt.time_slice;
    p->last_check = now;
    {
      std::lock_guard lock(m);
      p->started = true;
      p->started_at = now;
      ++stats.started;
    }
    cv.notify_all();
    try {
      p->type->run(*p->ctx, *p->doc);
    } catch (const job_stop&) {
    } catch (const migrate_error& e) {
      p->body_threw = true;
      p->body_error = e.what();
      // reason(), not code(): a job library's errors carry its own copy of the category.
      if (e.reason() == migrate_errc::bad_argument) p->bad_argument = e.detail();
    } catch (const std::exception& e) {
      p->body_threw = true;
      p->body_error = e.what();
    } catch (...) {
      p->body_threw = true;
      p->body_error = "an exception that is not a std::exception";
    }
  });
  {
    std::lock_guard lock(m);
    runs[r->id] = r;
  }
  worker_thread& w = *workers[next_worker++ % workers.size()];
  p->worker = &w;
  enqueue(r);
}

void node::impl::enqueue(const std::shared_ptr<run>& r) {
  worker_thread& w = *r->worker;
  {
    std::lock_guard lock(w.m);
    w.queue.push_back(r);
    ++w.queued;
  }
  w.cv.notify_one();
}

void node::impl::work(worker_thread& w) {
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
    r->fiber->resume();
    if (r->fiber->done()) finished(*r);
    else at_safe_point(r);
  }
}

void node::impl::end(run& r, end_kind k, std::string error) {
  std::unique_ptr<request> req;
  {
    std::lock_guard lock(m);
    r.ended = k;
    switch (k) {
      case end_kind::done: ++stats.done; break;
      case end_kind::failed: ++stats.failed; break;
      case end_kind::suspended: ++stats.suspended; break;
      case end_kind::handed_off: ++stats.moved; break;
      case end_kind::killed: ++stats.killed; break;
      case end_kind::stale:
      case end_kind::abandoned: ++stats.lost; break;
      case end_kind::none: break;
    }
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
void node::impl::stop_fiber(run& r) {
  r.stop = true;
  while (!r.fiber->done()) r.fiber->resume();  // a body that caught job_stop meets it again
}

void node::impl::finished(run& r) {
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

void node::impl::at_safe_point(const std::shared_ptr<run>& rp) {
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

// Posts a request to a job running here and waits until its safe point has handled it.
void node::impl::request_and_wait(std::string_view id, request_kind kind, std::string to) {
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

void run::safe_point(job_context& c, bool force) {
  if (!passed_safe_point) {  // the first: the body has read its arguments (node::wait_arguments_read)
    passed_safe_point = true;
    {
      std::lock_guard lock(n.m);
      arguments_read = true;
    }
    n.cv.notify_all();
  }
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
    fiber->yield();  // to the worker, which saves, stops or reschedules us
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

// ---- node: its workers and the jobs running on them ---------------------------------------

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

std::vector<std::string> node::hosted() const {
  std::lock_guard lock(impl_->m);
  std::vector<std::string> out;
  for (const auto& [id, r] : impl_->runs)
    if (r->ended == end_kind::none) out.push_back(id);
  return out;
}

node_stats node::stats() const {
  std::lock_guard lock(impl_->m);
  node_stats out = impl_->stats;
  for (const auto& [id, r] : impl_->runs)
    if (r->ended == end_kind::none) ++out.running;
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

void node::wait_arguments_read(std::string_view id, std::chrono::milliseconds timeout) {
  impl& n = *impl_;
  std::unique_lock lock(n.m);
  auto it = n.runs.find(id);
  if (it == n.runs.end()) return;
  std::shared_ptr<run> r = it->second;
  n.cv.wait_for(lock, timeout, [&] { return r->arguments_read || r->ended != end_kind::none; });
  if (r->ended == end_kind::failed && !r->bad_argument.empty())
    throw migrate_error(migrate_errc::bad_argument, id, r->bad_argument + " (the job failed)");
}

}  // namespace xgate::migrate
