// Registers BM_Encode/<workload>/<contender> and BM_Decode/<workload>/<contender> with
// Google Benchmark. Each benchmark checks its contender once (outside the clock) and
// reports bytes/s of the contender's own output and that output's size ("bytes").
#pragma once

#include "suite.hpp"

namespace bench {

void register_benchmarks(suite& s, checker& c);

}  // namespace bench
