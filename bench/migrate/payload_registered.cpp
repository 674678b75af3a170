// The payload job in the global registry: what the bench's node program (xgate_bench_node,
// the migrate CLI with this one more type) hosts as "bench-payload".
#include "payload_job.hpp"

XGATE_JOB("bench-payload", 1, xgate::bench::PayloadState, xgate::bench::payload_job)
