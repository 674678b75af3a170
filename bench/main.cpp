// xgate_bench: xgate against Boost.Serialization, cereal, pugixml and memcpy on the same
// objects. See bench/README.md.
//
//   xgate_bench [benchmark flags]              the full run (Google Benchmark flags apply)
//   xgate_bench --smoke [benchmark flags]      tiny workloads, one iteration each (CTest)
//   xgate_bench --scale=F [benchmark flags]    workloads F times the full size
//   xgate_bench --rss <workload> <encode|decode> [contender]   peak memory, one JSON line
//   xgate_bench --dump <workload> [contender]  writes that contender's document to stdout
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <benchmark/benchmark.h>

#include "benchmarks.hpp"
#include "rss.hpp"
#include "suite.hpp"

namespace {
// The bytes a contender produces for a workload, for looking at what is compared.
int dump(bench::suite& suite, std::string_view workload, std::string_view contender) {
  int rc = 2;
  suite.for_each([&](auto& wl) {
    if (wl.name() != workload) return;
    for (const auto& c : bench::codecs<std::decay_t<decltype(wl.get())>>()) {
      if (c.name != contender) continue;
      std::string bytes = c.encode(wl.get());
      std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      rc = std::cout ? 0 : 1;
    }
  });
  if (rc == 2) std::fprintf(stderr, "xgate_bench --dump: unknown workload or contender\n");
  return rc;
}

void usage() {
  std::fprintf(stderr,
               "usage: xgate_bench [--smoke | --scale=F] [--benchmark_... flags]\n"
               "       xgate_bench [--smoke | --scale=F] --rss <workload> <encode|decode> [contender]\n"
               "       xgate_bench [--smoke | --scale=F] --dump <workload> [contender]\n"
               "workloads: records tree graph strings strings_no_nul doubles doubles_finite\n"
               "contenders: xgate boost_xml boost_binary cereal_xml (and pugixml_parse for decode)\n");
}
}  // namespace

int main(int argc, char** argv) {
  bool smoke = false;
  double scale = 1.0;
  std::vector<std::string> rss, dumped;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--smoke") {
      smoke = true;
    } else if (a.starts_with("--scale=")) {
      char* end = nullptr;
      scale = std::strtod(argv[i] + 8, &end);
      if (!(scale > 0) || *end) return usage(), 2;
    } else if (a == "--rss") {
      for (++i; i < argc && argv[i][0] != '-'; ++i) rss.emplace_back(argv[i]);
      --i;
      if (rss.size() < 2 || rss.size() > 3) return usage(), 2;
    } else if (a == "--dump") {
      for (++i; i < argc && argv[i][0] != '-'; ++i) dumped.emplace_back(argv[i]);
      --i;
      if (dumped.empty() || dumped.size() > 2) return usage(), 2;
    } else if (a == "--help" || a == "-h") {
      usage();
      rest.push_back(argv[i]);
    } else {
      rest.push_back(argv[i]);
    }
  }
  bench::sizes sizes = smoke ? bench::sizes::smoke() : bench::sizes::full().scaled(scale);
  bench::suite suite(sizes);
  if (!dumped.empty()) return dump(suite, dumped[0], dumped.size() > 1 ? dumped[1] : "xgate");
  if (!rss.empty()) return bench::run_rss(suite, rss[0], rss[1], rss.size() > 2 ? rss[2] : "xgate");

  // Smoke: one iteration of everything (a later --benchmark_min_time still wins).
  std::string min_time = "--benchmark_min_time=0.000000001";
  if (smoke) rest.insert(rest.begin() + 1, min_time.data());
  int n = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  benchmark::Initialize(&n, rest.data());
  if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 2;

  benchmark::AddCustomContext("xgate_bench.mode", smoke ? "smoke" : "full");
  benchmark::AddCustomContext("xgate_bench.sizes",
                              "records=" + std::to_string(sizes.records) + " tree=" + std::to_string(sizes.tree) +
                                  " graph=" + std::to_string(sizes.graph) + " strings=" + std::to_string(sizes.strings) +
                                  " doubles=" + std::to_string(sizes.doubles));
  bench::checker checker;
  bench::register_benchmarks(suite, checker);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  if (!checker.codec_bugs().empty()) {
    std::fprintf(stderr, "\nxgate failed to round-trip %zu workload(s):\n", checker.codec_bugs().size());
    for (const std::string& b : checker.codec_bugs()) std::fprintf(stderr, "  %s\n", b.c_str());
    // The smoke test guards the codec on these workloads; a full run still reports the rest.
    if (smoke) return 1;
  }
  return 0;
}
