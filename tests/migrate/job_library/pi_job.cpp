// A job library for the tests: a Monte-Carlo estimate of pi with declared arguments, built
// with xgate_add_job_library like a user's (tests/migrate/CMakeLists.txt).
#include <xgate/migrate/job.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

namespace pi_test {

enum class sampler { lcg, halton };
XGATE_ENUM(sampler, lcg, halton)

struct PiArgs {
  std::uint64_t samples = 100000;
  std::uint64_t seed = 1;
  sampler method = sampler::lcg;
  std::uint32_t pause_every = 0;  // sleep 1 ms every this many samples (0: never)
  std::string label = "pi";
};
XGATE_REFLECT(PiArgs, samples, seed, method, pause_every, label)

struct PiState {
  std::uint64_t done = 0, hits = 0, rng = 0;
};
XGATE_TYPE(PiState, "test.PiState", 1, (), (done, hits, rng))

struct PiResult {
  std::string label;
  std::uint64_t samples = 0, hits = 0;
  double estimate = 0;
};
XGATE_TYPE(PiResult, "test.PiResult", 1, (), (label, samples, hits, estimate))

double halton(std::uint64_t i, std::uint64_t base) {
  double f = 1, r = 0;
  for (; i > 0; i /= base) {
    f /= static_cast<double>(base);
    r += f * static_cast<double>(i % base);
  }
  return r;
}

void pi(xgate::job_context& ctx, PiState& s, const PiArgs& a) {
  if (!ctx.resumed() && s.done == 0) s.rng = a.seed;
  while (s.done < a.samples) {
    double x, y;
    if (a.method == sampler::halton) {
      x = halton(s.done + 1, 2);
      y = halton(s.done + 1, 3);
    } else {
      s.rng = s.rng * 6364136223846793005ULL + 1442695040888963407ULL;
      x = static_cast<double>(s.rng >> 11) / 9007199254740992.0;
      s.rng = s.rng * 6364136223846793005ULL + 1442695040888963407ULL;
      y = static_cast<double>(s.rng >> 11) / 9007199254740992.0;
    }
    if (x * x + y * y <= 1.0) ++s.hits;
    ++s.done;
    ctx.progress(s.done, a.samples);
    if (a.pause_every && s.done % a.pause_every == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ctx.checkpoint();
  }
  ctx.result(PiResult{a.label, s.done, s.hits, 4.0 * static_cast<double>(s.hits) / static_cast<double>(s.done)});
}

}  // namespace pi_test

XGATE_JOB("pi", 1, pi_test::PiState, pi_test::pi)
