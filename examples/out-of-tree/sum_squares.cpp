// A job of one's own: migrate/README.md §1's sum of squares.
#include <xgate/migrate/job.hpp>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>

namespace my {

struct SumState {
  std::uint64_t next = 0;  // the first number not yet added
  std::uint64_t sum = 0;
};
XGATE_TYPE(SumState, "my.SumState", 1, (), (next, sum))

void sum_squares(xgate::job_context& ctx, SumState& s) {
  const std::uint64_t n = ctx.arg_u64("n", 1000000);  // arguments: key=value strings
  const std::uint64_t sleep_every = ctx.arg_u64("sleep_every", 0);  // slow it down: 1 ms per this many
  while (s.next < n) {
    s.sum += s.next * s.next;
    ++s.next;
    ctx.progress(s.next, n);  // shown by migrate ps / watch
    if (sleep_every && s.next % sleep_every == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ctx.checkpoint();  // a safe point: may save, stop, move
  }
  // A side effect at most once per job, however often the job moved.
  const std::string log = ctx.arg("log", "");
  if (!log.empty()) ctx.once("log", [&] { std::ofstream(log, std::ios::app) << "sum " << s.sum << "\n"; });
  ctx.result(s.sum);  // stored with the submitter's rights; migrate result ID prints it
}

}  // namespace my

XGATE_JOB("sum-squares", 1, my::SumState, my::sum_squares)
