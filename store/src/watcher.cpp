// Watches: the change log as a principal may see it, waiting for it, and the watcher
// thread that calls back with it.
#include <xgate/store/store.hpp>

#include "store_impl.hpp"

namespace xgate::store {

std::vector<change> store::changes(std::string_view prefix, std::uint64_t after, const caller& who, std::size_t limit) const {
  prefix = check_prefix("watch", prefix);
  return impl_->read("watch", prefix, [&](const read_transaction& t) {
    // The log is contiguous up to the current revision, so a gap before its first entry
    // means changes after `after` were dropped.
    std::optional<std::uint64_t> oldest = t.oldest_change();
    if (oldest && *oldest > after + 1)
      throw store_error(store_errc::history_lost, "watch", prefix,
                        "changes after revision " + std::to_string(after) + " are no longer kept (oldest kept: " +
                            std::to_string(*oldest) + ")");
    std::vector<change> out;
    t.changes_after(after, [&](change_record&& c) {
      if (is_under(c.name, prefix) && who.may(c.name, right::read) && c.readers.allows(who.principal(), right::read))
        out.push_back(change{c.revision, c.kind, std::move(c.name)});
      return limit == 0 || out.size() < limit;
    });
    return out;
  });
}

std::vector<change> store::watch(std::string_view prefix, std::uint64_t after, const caller& who,
                                 std::chrono::milliseconds timeout, std::stop_token stop, std::size_t limit) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::uint64_t seen;
    {
      std::lock_guard lock(impl_->watch_mutex);
      seen = impl_->generation;
    }
    std::vector<change> out = changes(prefix, after, who, limit);
    if (!out.empty()) return out;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline || stop.stop_requested()) return out;
    // Commits by other processes wake this wait only if the engine tells of them;
    // otherwise look again at the engine's interval.
    auto until = impl_->foreign_poll ? std::min(deadline, now + *impl_->foreign_poll) : deadline;
    std::unique_lock lock(impl_->watch_mutex);
    impl_->watch_cv.wait_until(lock, stop, until, [&] { return impl_->generation != seen; });
  }
}

struct watcher::state {
  mutable std::mutex mutex;
  std::exception_ptr error;
  bool stopped = false;
};

watcher::watcher(const store& s, std::string prefix, std::uint64_t after, caller who, callback on_change)
    : state_(std::make_shared<state>()) {
  check_prefix("watch", prefix);  // refuse a bad prefix here, not in the thread
  thread_ = std::jthread([&s, st = state_, prefix = std::move(prefix), after, who = std::move(who),
                          on_change = std::move(on_change)](std::stop_token stop) mutable {
    try {
      while (!stop.stop_requested()) {
        std::vector<change> c = s.watch(prefix, after, who, std::chrono::hours(1), stop);
        if (c.empty()) continue;
        after = c.back().revision;
        on_change(c);
      }
    } catch (...) {
      std::lock_guard lock(st->mutex);
      st->error = std::current_exception();
    }
    std::lock_guard lock(st->mutex);
    st->stopped = true;
  });
}

watcher::~watcher() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

bool watcher::stopped() const noexcept {
  std::lock_guard lock(state_->mutex);
  return state_->stopped;
}

std::exception_ptr watcher::error() const {
  std::lock_guard lock(state_->mutex);
  return state_->error;
}

}  // namespace xgate::store
