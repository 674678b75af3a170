// The benchmarks' job: a state of about `bytes` bytes of XML (random doubles) that does
// nothing but take steps. work=1: ~50 µs of arithmetic per step (a busy job); else it sleeps
// 100 µs per step (a job that mostly waits, as one being moved should not skew the timing).
#pragma once

#include <atomic>
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

}  // namespace xgate::bench
