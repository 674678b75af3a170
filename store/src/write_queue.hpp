// Group commit for the engines (internal): writers that arrive while a commit is under way
// wait, and the first of them then commits everyone waiting in one transaction (one fsync).
// The queue is served in order; each writer learns its own outcome.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <string_view>
#include <vector>

#include <xgate/store/engine.hpp>

namespace xgate::store {

// One engine::write waiting for its group's commit.
struct write_request {
  const std::function<void(write_transaction&)>* run = nullptr;
  std::string_view operation, document;
  std::exception_ptr error;  // set by the group's run: this writer's failure
  bool done = false;
  bool lead = false;  // handed the leadership by the previous leader
};

class write_queue {
 public:
  explicit write_queue(std::size_t max_group) : max_group_(max_group) {}

  // Queues r and returns once it is done: committed by a leader's group, or as the leader of
  // a group that commit_group ran (then the rest of the queue gets a new leader). What
  // commit_group throws fails every request of its group that has no error yet.
  void submit(write_request& r, const std::function<void(const std::vector<write_request*>&)>& commit_group) {
    std::unique_lock lock(mutex_);
    queue_.push_back(&r);
    if (leader_) {
      cv_.wait(lock, [&] { return r.done || r.lead; });
      if (r.done) return;
    }
    leader_ = true;
    r.lead = false;
    std::vector<write_request*> group;
    std::size_t n = std::min(queue_.size(), max_group_);
    group.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    lock.unlock();
    try {
      commit_group(group);
    } catch (...) {  // e.g. bad_alloc: whatever did not finish failed, and the queue goes on
      for (write_request* g : group)
        if (!g->error) g->error = std::current_exception();
    }
    lock.lock();
    for (write_request* g : group) g->done = true;
    if (queue_.empty())
      leader_ = false;
    else
      queue_.front()->lead = true;
    cv_.notify_all();
  }

 private:
  std::size_t max_group_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<write_request*> queue_;
  bool leader_ = false;
};

}  // namespace xgate::store
