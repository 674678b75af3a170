// Peak memory of one encode or decode, measured in a process of its own:
//   xgate_bench --rss <workload> <encode|decode> [contender]
// prints one JSON object per line (see bench/README.md).
#pragma once

#include <string_view>

#include "suite.hpp"

namespace bench {

int run_rss(suite& s, std::string_view workload, std::string_view phase, std::string_view contender);

}  // namespace bench
