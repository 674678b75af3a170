#include "watches.hpp"

#include <algorithm>

namespace xgate::server::detail {

namespace {
// How often the notifier reads the revision while entries wait: the store's own watch polls
// for other processes' writes at the same interval.
constexpr auto poll_interval = std::chrono::milliseconds(50);
}  // namespace

watches::watches(const store::store& s) : store_(s), thread_([this] { run(); }) {}

watches::~watches() { stop(); }

void watches::add(std::shared_ptr<entry> e) {
  std::lock_guard lock(mutex_);
  if (stopping_) {
    e->claim();
    return;
  }
  entries_.push_back(std::move(e));
  wake_.notify_one();
}

void watches::poke() {
  std::lock_guard lock(mutex_);
  poked_ = true;
  wake_.notify_one();
}

void watches::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  for (auto& e : entries_) e->claim();
  entries_.clear();
}

void watches::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stopping_) return;
    if (entries_.empty()) {
      wake_.wait(lock, [this] { return stopping_ || !entries_.empty(); });
      continue;
    }
    auto now = std::chrono::steady_clock::now();
    auto next = now + poll_interval;
    for (auto& e : entries_) next = std::min(next, e->deadline);
    wake_.wait_until(lock, next, [this] { return stopping_ || poked_; });
    if (stopping_) return;
    poked_ = false;
    lock.unlock();
    check(std::chrono::steady_clock::now());
    lock.lock();
  }
}

void watches::check(std::chrono::steady_clock::time_point now) {
  std::vector<std::shared_ptr<entry>> waiting;
  {
    std::lock_guard lock(mutex_);
    std::erase_if(entries_, [](const std::shared_ptr<entry>& e) { return e->claimed.load(); });
    waiting = entries_;
  }
  std::uint64_t revision = 0;
  try {
    revision = store_.revision();
  } catch (...) {
    // Nothing to learn this round; deadlines still apply below.
  }
  for (auto& e : waiting) {
    if (e->claimed) continue;
    // Only a revision past both the entry's `after` and what it already looked at can hold
    // something new for it; this also keeps an `after` beyond the current revision waiting.
    if (revision > e->after && revision > e->checked) {
      try {
        std::vector<store::change> found = store_.changes(e->prefix, e->after, e->who, e->limit);
        if (!found.empty()) {
          if (e->claim()) e->done(std::move(found), nullptr);
          continue;
        }
        e->checked = revision;
      } catch (...) {
        if (e->claim()) e->done({}, std::current_exception());
        continue;
      }
    }
    if (now >= e->deadline && e->claim()) e->done({}, nullptr);
  }
}

}  // namespace xgate::server::detail
