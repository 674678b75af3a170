// Long polls (GET /watch) waiting for changes: each costs an entry with a deadline, not a
// thread. One notifier thread reads the store's revision (at once when this server wrote
// something, see poke(); else every poll interval, which also catches writes by the hub,
// the reaper and other processes) and completes the entries that have changes after their
// revision, or whose deadline passed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <xgate/store/store.hpp>

namespace xgate::server::detail {

class watches {
 public:
  struct entry {
    // Called once, on the notifier thread: with the changes found, or none when the
    // deadline passed, or with the store's error (e.g. history_lost).
    using done_fn = std::function<void(std::vector<store::change>, std::exception_ptr)>;

    entry(store::caller who, std::string prefix, std::uint64_t after, std::size_t limit, std::uint64_t checked,
          std::chrono::steady_clock::time_point deadline, done_fn done)
        : who(std::move(who)), prefix(std::move(prefix)), after(after), limit(limit), checked(checked),
          deadline(deadline), done(std::move(done)) {}
    // Whoever claims an entry first completes it (the notifier) or drops it (a client
    // that hung up, a stopping server); everyone else leaves it alone.
    bool claim() { return !claimed.exchange(true); }

    const store::caller who;
    const std::string prefix;
    const std::uint64_t after;
    const std::size_t limit;  // changes per answer
    std::uint64_t checked;  // the revision up to which no change was found (notifier only)
    const std::chrono::steady_clock::time_point deadline;
    const done_fn done;
    std::atomic<bool> claimed{false};
  };

  // Starts the notifier thread; the store must outlive this object.
  explicit watches(const store::store& s);
  ~watches();  // stop()
  watches(const watches&) = delete;
  watches& operator=(const watches&) = delete;

  // Waits for changes under e->prefix after e->after that e->who may see; after stop(),
  // the entry is dropped without being completed.
  void add(std::shared_ptr<entry> e);
  // Something was written through this server: look now instead of at the next poll.
  void poke();
  // Joins the notifier; entries still waiting are dropped, not completed.
  void stop();

 private:
  void run();
  // One look at the store: completes what is due, keeps the rest.
  void check(std::chrono::steady_clock::time_point now);

  const store::store& store_;
  std::mutex mutex_;  // guards what follows
  std::condition_variable wake_;
  std::vector<std::shared_ptr<entry>> entries_;
  bool poked_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace xgate::server::detail
