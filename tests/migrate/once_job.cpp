// A job for the daemon tests, linked into migrate_test_node (the migrate program plus this
// job): counts to steps=N, one step per pause_ms; at every 10th step appends its
// once_token to effects=FILE through ctx.once; at step hold_at it waits (checkpointing)
// while the file hold=FILE exists, so a test can kill its node at a known point.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <xgate/migrate/job.hpp>

namespace daemon_test {

struct OnceState {
  std::uint64_t i = 0;
  std::uint64_t total = 0;
};
XGATE_TYPE(OnceState, "test.OnceState", 1, (), (i, total))

void once_body(xgate::job_context& ctx, OnceState& s) {
  const std::uint64_t steps = ctx.arg_u64("steps", 100), pause_ms = ctx.arg_u64("pause_ms", 1);
  const std::string effects = ctx.arg("effects", ""), hold = ctx.arg("hold", "");
  const std::uint64_t hold_at = ctx.arg_u64("hold_at", 0);
  while (s.i < steps) {
    if (s.i % 10 == 0 && !effects.empty()) {
      const std::string key = "effect-" + std::to_string(s.i);
      s.total += ctx.once(key, [&] {
        std::ofstream(effects, std::ios::app) << ctx.once_token(key) << "\n";
        return s.i;
      });
    }
    ++s.i;
    ctx.progress(s.i, steps);
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    ctx.checkpoint();
    while (s.i == hold_at && !hold.empty() && std::filesystem::exists(hold)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      ctx.checkpoint();
    }
  }
  ctx.result(s.total);
}

}  // namespace daemon_test

XGATE_JOB("test-once", 1, daemon_test::OnceState, daemon_test::once_body)
