#include "payload_job.hpp"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

namespace xgate::bench {

std::atomic<std::uint64_t> payload_steps{0};

namespace {
volatile double sink = 0;  // the busy steps' arithmetic is kept: its result is stored here
}

void payload_job(xgate::job_context& ctx, PayloadState& s) {
  using namespace std::chrono_literals;
  if (s.payload.empty()) {
    std::mt19937_64 gen(1);
    std::uniform_real_distribution<double> d(0, 1);
    s.payload.resize(std::max<std::uint64_t>(1, ctx.arg_u64("bytes", 1024) / 32));
    for (double& v : s.payload) v = d(gen);
  }
  const std::uint64_t work = ctx.arg_u64("work", 0);
  double acc = 0;
  for (;;) {
    if (work) {
      for (int i = 0; i < 20000; ++i) acc = acc * 0.999999 + static_cast<double>(i & 7);
      sink = acc;
    } else {
      std::this_thread::sleep_for(100us);
    }
    ++s.steps;
    payload_steps.fetch_add(1, std::memory_order_relaxed);
    ctx.checkpoint();
  }
}

}  // namespace xgate::bench
