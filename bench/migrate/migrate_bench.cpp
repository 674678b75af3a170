// Move downtime and checkpoint overhead of the migration runtime, in one process: two nodes
// sharing one store directory (LMDB, fsync on commit) under the system's temp directory.
//
//   move_downtime/BYTES    a job with a state of about BYTES of XML moves A→B→A…; each
//                          iteration's time is one move's downtime: from the job's safe point
//                          on A (where it stopped) to its body running on B — A's checkpoint
//                          (encode, sign, one batch), B's load (read, verify, decode) and claim.
//                          Counters: p50_ms, p99_ms, checkpoint_bytes.
//   checkpoint_overhead/PER_S  a job doing ~50 µs steps with a 1 MB state, saving PER_S
//                          times a second, against the same job never saving (measured right
//                          before, same process). Counters: steps_per_s, baseline_steps_per_s,
//                          overhead_pct.
// XGATE_BENCH_SMOKE=1 (the CTest smoke run): a few moves and short windows.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>
#include <unistd.h>

#include <xgate/migrate.hpp>

#include "payload_job.hpp"

namespace xm = xgate::migrate;
using namespace std::chrono_literals;

namespace {

bool smoke() { return std::getenv("XGATE_BENCH_SMOKE") != nullptr; }

struct cluster {
  std::filesystem::path dir;
  std::unique_ptr<xgate::store::store> st;
  std::unique_ptr<xm::job_store> js;
  xm::job_registry jobs;
  std::unique_ptr<xm::node> a, b;

  explicit cluster(std::chrono::milliseconds interval) {
    static int n = 0;
    dir = std::filesystem::temp_directory_path() / ("xgate-migrate-bench-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(dir);
    st = std::make_unique<xgate::store::store>(dir);
    js = xm::local_job_store(*st);
    jobs.add(xm::make_job_type<xgate::bench::PayloadState, xgate::bench::payload_job>("payload", 1));
    xm::node_options o;
    o.jobs = &jobs;
    o.checkpoint_interval = interval;
    o.name = "A";
    a = std::make_unique<xm::node>(*js, o);
    o.name = "B";
    b = std::make_unique<xm::node>(*js, o);
  }
  ~cluster() {
    a.reset();  // abandons the job (it never ends by itself)
    b.reset();
    js.reset();
    st.reset();
    std::filesystem::remove_all(dir);
  }
};

void move_downtime(benchmark::State& state) {
  cluster c(1h);  // no periodic checkpoints: only the moves save
  const std::string id = c.a->submit("payload", {{"bytes", std::to_string(state.range(0))}}, "bench");
  xm::node* at = c.a.get();
  xm::node* other = c.b.get();
  std::vector<double> ms;
  std::size_t bytes = 0;
  for (auto _ : state) {
    xm::move_report r = at->move(id, *other, "bench");
    double s = std::chrono::duration<double>(r.downtime).count();
    state.SetIterationTime(s);
    ms.push_back(s * 1e3);
    bytes = r.checkpoint_bytes;
    std::swap(at, other);
  }
  state.counters["p50_ms"] = xgate::bench::percentile(ms, 0.5);
  state.counters["p99_ms"] = xgate::bench::percentile(ms, 0.99);
  state.counters["checkpoint_bytes"] = static_cast<double>(bytes);
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes) * state.iterations());
}

// Steps per second of a busy job on a fresh node saving every `interval`.
double throughput(std::chrono::milliseconds interval, std::chrono::milliseconds window) {
  cluster c(interval);
  (void)c.a->submit("payload", {{"bytes", std::to_string(1 << 20)}, {"work", "1"}}, "bench");  // runs until c goes
  std::this_thread::sleep_for(window / 4);  // warm up: the first save, caches
  std::uint64_t before = xgate::bench::payload_steps.load();
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(window);
  std::uint64_t after = xgate::bench::payload_steps.load();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(after - before) / s;
}

void checkpoint_overhead(benchmark::State& state) {
  const auto window = smoke() ? 100ms : 2000ms;
  const auto interval = std::chrono::milliseconds(1000 / state.range(0));
  double base = 0, with = 0;
  for (auto _ : state) {
    base = throughput(24h, window);
    with = throughput(interval, window);
    state.SetIterationTime(std::chrono::duration<double>(window).count());
  }
  state.counters["baseline_steps_per_s"] = base;
  state.counters["steps_per_s"] = with;
  state.counters["overhead_pct"] = base > 0 ? 100.0 * (1.0 - with / base) : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = smoke();
  benchmark::RegisterBenchmark("move_downtime", move_downtime)->ArgName("state_bytes")->Arg(1 << 10)->Iterations(quick ? 2 : 60)->UseManualTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("move_downtime", move_downtime)->ArgName("state_bytes")->Arg(1 << 20)->Iterations(quick ? 2 : 30)->UseManualTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("move_downtime", move_downtime)->ArgName("state_bytes")->Arg(10 << 20)->Iterations(quick ? 2 : 10)->UseManualTime()->Unit(benchmark::kMillisecond);
  for (int per_s : {1, 10, 100})
    benchmark::RegisterBenchmark("checkpoint_overhead", checkpoint_overhead)->ArgName("saves_per_s")->Arg(per_s)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
