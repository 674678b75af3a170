// The hub's housekeeping thread: closes connections silent too long (or not logged in in
// time), ends sessions whose credentials were revoked or expired, expires old queued
// messages, and applies log retention (hub_options::log_days).
#include "hub_impl.hpp"

#include <algorithm>

namespace xgate::channel {

using namespace hub_detail;

void hub::impl::run_housekeeper() {
  std::unique_lock lock(state_mutex);
  auto tick = std::clamp(std::min(options.idle_timeout, options.handshake_timeout) / 4, std::chrono::milliseconds(10),
                         std::chrono::milliseconds(500));
  std::optional<steady::time_point> pruned;
  std::uint64_t revocations = store_.revocations();
  steady::time_point checked = steady::now(), renewed = checked;
  while (!stopping) {
    if (steady::now() - renewed >= options.presence_lease / 3) {
      renewed = steady::now();
      lock.unlock();  // store work
      renew_presence();
      lock.lock();
      if (stopping) break;
    }
    if (options.log_days > 0 && (!pruned || steady::now() - *pruned >= std::chrono::hours(1))) {
      pruned = steady::now();
      lock.unlock();  // store work, and nothing of the hub's state
      prune_log(std::chrono::system_clock::now());
      lock.lock();
      if (stopping) break;
    }
    housekeeper_wake.wait_for(lock, tick);
    if (stopping) break;
    auto now = steady::now();
    std::vector<std::shared_ptr<conn>> idle;
    for (auto& c : connections) {
      if (c->closed) continue;
      if ((!c->state && now - c->opened > options.handshake_timeout) || now - c->last_heard > options.idle_timeout) idle.push_back(c);
    }
    for (auto& c : idle) {
      note("closing " + (c->state ? c->name + " (" + c->peer + ")" : c->peer) + ": silent too long");
      close_conn(*c);
    }
    // At once after a revocation through this store object; every 30 s for expiries and
    // revocations by other processes.
    if (std::uint64_t r = store_.revocations(); r != revocations || now - checked >= std::chrono::seconds(30)) {
      revocations = r;
      checked = now;
      recheck_credentials(lock);
      if (stopping) break;
    }
    expire(std::chrono::system_clock::now());
  }
}

void hub::impl::recheck_credentials(std::unique_lock<std::mutex>& lock) {
  std::vector<std::pair<std::shared_ptr<conn>, std::string>> logged_in;
  for (auto& c : connections)
    if (c->state && !c->closed) logged_in.emplace_back(c, c->credential_id);
  if (logged_in.empty()) return;
  lock.unlock();  // store reads, and nothing of the hub's state
  std::vector<std::shared_ptr<conn>> ended;
  for (auto& [c, id] : logged_in) {
    try {
      if (!verifier.credential(id)) ended.push_back(c);
    } catch (const std::exception& e) {
      note("checking credential " + id + ": " + e.what(), log_level::error);  // the store failed: no verdict
    }
  }
  lock.lock();
  for (auto& c : ended) {
    if (c->closed || !c->state) continue;
    note("ending the session of " + c->name + " (" + c->peer + "): its credential " + c->credential_id +
         " was revoked or has expired", log_level::warning);
    send_to(*c, {frames::refused{channel_errc::bad_auth, "endpoint " + c->name + ": the credential " + c->credential_id +
                                                             " was revoked or has expired"}});
    close_conn(*c);
  }
}

// Removes the log documents of days before the last log_days (hub.hpp), oldest first, a
// bounded batch at a time: names sort by day, so the first documents under "log/" are the
// oldest. Housekeeper thread, without the hub's lock.
void hub::impl::prune_log(std::chrono::system_clock::time_point now) {
  const std::string first_kept = log_name(now - std::chrono::hours(24) * (options.log_days - 1), "", 0).substr(0, 15);  // "log/YYYY-MM-DD/"
  const store::caller me(options.principal);
  std::uint64_t removed = 0;
  try {
    for (;;) {
      {
        std::lock_guard lock(state_mutex);
        if (stopping) break;
      }
      store::batch b;
      for (const store::document_info& d : store_.list("log", me, 1000))
        if (d.name.starts_with("log/") && d.name < first_kept) b.remove(d.name);
      if (b.empty()) break;
      store_.apply(b, me);
      removed += b.size();
    }
  } catch (const std::exception& e) {
    note("log retention: " + std::string(e.what()), log_level::error);
  }
  if (removed == 0) return;
  note("log retention: removed " + std::to_string(removed) + " log documents from before " + first_kept.substr(4, 10) +
       " (log_days " + std::to_string(options.log_days) + ")");
  std::lock_guard lock(state_mutex);
  stats.log_documents_pruned += removed;
}

// Removes messages queued longer than queue_expiry for offline endpoints (hub.hpp).
void hub::impl::expire(std::chrono::system_clock::time_point now) {
  auto limit = std::chrono::duration_cast<std::chrono::nanoseconds>((now - options.queue_expiry).time_since_epoch()).count();
  for (auto& [name, s] : endpoints) {
    if (s->connection || s->docs.empty() || s->docs.front().queued_ns > limit) continue;
    // Rebuild the link without the expired messages and the rest of their streams.
    std::set<std::string> dead;
    link_sender fresh(new_link_stream(), sender_options());
    std::deque<endpoint_state::entry> kept;
    std::vector<store_op> ops;
    s->out.rewind();  // take() hands out everything unacknowledged, parallel to docs
    auto ms = s->out.take();
    for (std::size_t i = 0; i < ms.size() && i < s->docs.size(); ++i) {
      auto& d = s->docs[i];
      if (d.queued_ns <= limit || dead.contains(d.stream_key)) {
        dead.insert(d.stream_key);
        log_record r;
        r.event = "expired";
        r.from = ms[i].env.from;
        r.to = name;
        r.id = ms[i].env.id;
        r.kind = ms[i].env.kind;
        r.size = ms[i].env.body.size();
        r.digest = body_digest(ms[i].env.body);
        ops.push_back(log_op(std::move(r), principal_of(ms[i].env.from), principal_of(name)));
        ops.push_back(remove_queued(d.doc));
        stats.queued -= std::min<std::size_t>(stats.queued, 1);
        s->bytes -= std::min(s->bytes, d.size);
      } else {
        fresh.push(std::move(ms[i].env));
        kept.push_back(std::move(d));
      }
    }
    note("expired " + std::to_string(s->docs.size() - kept.size()) + " messages queued for " + name);
    for (auto& k : dead) s->broken.insert(k);
    s->out = std::move(fresh);
    s->docs = std::move(kept);
    s->sent_upto = 0;
    submit(commit_item{std::move(ops), nullptr});
  }
}

}  // namespace xgate::channel
