// A job of one's own: migrate/README.md §1's sum of squares.
#include <xgate/migrate/job.hpp>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>

namespace my {

// The job's arguments (--arg n=5000): the node checks them when the job is submitted, and
// `migrate run sum-squares --help` lists them with these defaults.
struct SumArgs {
  std::uint64_t n = 1000000;      // add the squares of 0 .. n-1
  std::uint64_t sleep_every = 0;  // slow it down: 1 ms per this many numbers (0: never)
  std::string log;                // append "sum S" to this file, once
};
XGATE_REFLECT(SumArgs, n, sleep_every, log)

struct SumState {
  std::uint64_t next = 0;  // the first number not yet added
  std::uint64_t sum = 0;
};
XGATE_TYPE(SumState, "my.SumState", 1, (), (next, sum))

void sum_squares(xgate::job_context& ctx, SumState& s, const SumArgs& a) {
  while (s.next < a.n) {
    s.sum += s.next * s.next;
    ++s.next;
    ctx.progress(s.next, a.n);  // shown by migrate ps / watch
    if (a.sleep_every && s.next % a.sleep_every == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ctx.checkpoint();  // a safe point: may save, stop, move
  }
  // A side effect at most once per job, however often the job moved.
  if (!a.log.empty()) ctx.once("log", [&] { std::ofstream(a.log, std::ios::app) << "sum " << s.sum << "\n"; });
  ctx.result(s.sum);  // stored for the submitter to read; migrate result ID prints it
}

}  // namespace my

XGATE_JOB("sum-squares", 1, my::SumState, my::sum_squares)
