// What the migration benchmarks share. The benchmarks' job: a state of about `bytes` bytes of XML (random doubles) that does
// nothing but take steps. work=1: ~50 µs of arithmetic per step (a busy job); else it sleeps
// 100 µs per step (a job that mostly waits, as one being moved should not skew the timing).
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <vector>

#include <xgate/migrate/job.hpp>

namespace xgate::bench {

struct PayloadState {
  std::uint64_t steps = 0;
  std::vector<double> payload;  // random doubles: about 32 bytes of XML each
};
XGATE_TYPE(PayloadState, "bench.PayloadState", 1, (), (steps, payload))

void payload_job(xgate::job_context& ctx, PayloadState& s);

// Steps taken by every payload job of this process: the checkpoint benchmark's throughput.
extern std::atomic<std::uint64_t> payload_steps;

// The p-quantile (0..1) of the moves' downtimes, nearest rank; 0 for none.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size()))) - (p > 0 ? 1 : 0))];
}

}  // namespace xgate::bench
