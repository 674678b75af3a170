// A job body's coroutine: a Boost.Context fiber on its own guarded stack, switched to and
// from by a worker thread. Every switch is announced to AddressSanitizer (Debian's
// Boost.Context is built for fcontext, whose fibers do not announce themselves), or it takes
// the job's stack for a wild one.
#pragma once

#include <cstddef>
#include <functional>

#include <boost/context/fiber.hpp>

namespace xgate::migrate {

class job_fiber {
 public:
  // body runs on the fiber's stack (stack_size bytes plus a guard page) from the first
  // resume(); it must not throw.
  job_fiber(std::size_t stack_size, std::function<void()> body);
  // The fiber captures this object: it stays where it was made.
  job_fiber(const job_fiber&) = delete;
  job_fiber& operator=(const job_fiber&) = delete;

  // From the worker into the fiber, until it yields or the body returns.
  void resume();
  // From the fiber back to the worker that resumed it (called on the fiber's stack).
  void yield();
  // The body has returned: the fiber cannot be resumed again.
  bool done() const noexcept { return !fiber_; }

 private:
  std::function<void()> body_;
  // Used only by the fiber and its worker, never at the same time.
  boost::context::fiber fiber_, back_;
  boost::context::stack_context stack_;  // the fiber's stack
  const void* worker_bottom_ = nullptr;  // the worker's stack, for the sanitizer hooks
  std::size_t worker_size_ = 0;
  void* fake_stack_ = nullptr;
};

}  // namespace xgate::migrate
