#include "fiber.hpp"

#include <memory>
#include <utility>

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

namespace {

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

}  // namespace

job_fiber::job_fiber(std::size_t stack_size, std::function<void()> body) : body_(std::move(body)) {
  fiber_ = bc::fiber(std::allocator_arg, recording_stack{bc::protected_fixedsize_stack(stack_size), &stack_},
                     [this](bc::fiber&& back) {
    finish_switch(nullptr, &worker_bottom_, &worker_size_);
    back_ = std::move(back);
    body_();
    start_switch(nullptr, worker_bottom_, worker_size_);  // this stack is done
    return std::move(back_);
  });
}

void job_fiber::resume() {
  void* fake = nullptr;
  start_switch(&fake, static_cast<char*>(stack_.sp) - stack_.size, stack_.size);
  fiber_ = std::move(fiber_).resume();
  finish_switch(fake, nullptr, nullptr);
}

void job_fiber::yield() {
  start_switch(&fake_stack_, worker_bottom_, worker_size_);
  back_ = std::move(back_).resume();  // to the worker
  finish_switch(fake_stack_, &worker_bottom_, &worker_size_);
}

}  // namespace xgate::migrate
