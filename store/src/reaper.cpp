// The reaper: store::reap() on a thread of its own, every interval.
#include <xgate/store/store.hpp>

#include <condition_variable>
#include <mutex>

namespace xgate::store {

struct reaper::state {
  mutable std::mutex mutex;
  std::condition_variable_any wake;  // only woken by stop requests
  std::exception_ptr error;
  std::uint64_t removed = 0;
};

reaper::reaper(store& s, clock::duration interval) : state_(std::make_shared<state>()) {
  thread_ = std::jthread([&s, st = state_, interval](std::stop_token stop) {
    std::unique_lock lock(st->mutex);
    while (!stop.stop_requested()) {
      lock.unlock();
      try {
        std::size_t n = s.reap().size();
        lock.lock();
        st->removed += n;
      } catch (...) {
        lock.lock();
        st->error = std::current_exception();
        return;
      }
      st->wake.wait_for(lock, stop, interval, [] { return false; });
    }
  });
}

reaper::~reaper() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t reaper::removed() const noexcept {
  std::lock_guard lock(state_->mutex);
  return state_->removed;
}

std::exception_ptr reaper::error() const {
  std::lock_guard lock(state_->mutex);
  return state_->error;
}

}  // namespace xgate::store
