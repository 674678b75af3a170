// Move downtime as a user sees it: a real xgated (store and hub) and two `migrate node`
// processes (xgate_bench_node: the migrate CLI hosting bench-payload), moves driven through
// xgate::nodes::remote as the migrate CLI does, on loopback.
//
//   move_processes/tls:T/state_bytes:B   a job with a state of about B bytes of XML moves
//       A→B→A…; each iteration's time is one move's downtime as the source node measures it:
//       from the job's safe point on A to B's answer that its body runs (A's checkpoint and
//       handoff commit over HTTP, the resume call through the hub, B's load and claim, and
//       the answer's trip back). tls:1 runs the store and the hub on TLS (a certificate from
//       xgate::tls's CA), tls:0 in the clear. Counters: p50_ms, p99_ms.
// XGATE_BENCH_SMOKE=1 (the CTest smoke run): two moves of the smallest state, in the clear.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <xgate/nodes/remote.hpp>
#include <xgate/tls/certs.hpp>

#include "payload_job.hpp"  // percentile
#include "process.hpp"

namespace {
namespace fs = std::filesystem;
namespace xn = xgate::nodes;
using namespace std::chrono_literals;

bool smoke() { return std::getenv("XGATE_BENCH_SMOKE") != nullptr; }

void write_secret(const fs::path& file, const std::string& token) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ::write(fd, token.data(), token.size()) != static_cast<ssize_t>(token.size()))
    throw std::runtime_error("cannot write " + file.string());
  ::close(fd);
}

// xgated with its hub and nodes A and B, plus a client; everything stopped with it.
struct cluster {
  fs::path dir;
  std::unique_ptr<xgate::process::child_process> server, a, b;
  std::unique_ptr<xn::remote> client;

  explicit cluster(bool tls) {
    dir = fs::temp_directory_path() / ("xgate-move-bench-" + std::to_string(::getpid()) + (tls ? "-tls" : "-plain"));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::vector<std::string> tls_flags;
    if (tls) {
      xgate::tls::create_ca(dir / "certs");
      xgate::tls::issue(dir / "certs", "server", {.hosts = {"127.0.0.1"}});
      tls_flags = {"--tls-cert", (dir / "certs/server.crt").string(), "--tls-key", (dir / "certs/server.key").string()};
      ::setenv("XGATE_CA", (dir / "certs/ca.crt").c_str(), 1);  // the nodes and this client
    } else {
      ::unsetenv("XGATE_CA");
    }
    for (const char* who : {"node", "bench"}) {
      int status = 0;
      std::string token = xgate::process::run_capture({XGATED_PATH, "adduser", who, "--data", (dir / "data").string()}, &status);
      if (status != 0) throw std::runtime_error("xgated adduser failed");
      while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
      write_secret(dir / (std::string(who) + ".secret"), token);
    }
    std::vector<std::string> argv{XGATED_PATH, "--data", (dir / "data").string(), "--listen", "127.0.0.1:0", "--hub", "127.0.0.1:0",
                                  "--log-level", "warning"};
    argv.insert(argv.end(), tls_flags.begin(), tls_flags.end());
    server = std::make_unique<xgate::process::child_process>(argv, dir / "xgated.log");
    const std::string store = server->wait_line("store: ", 20s).value_or(""), hub = server->wait_line("hub: ", 20s).value_or("");
    if (store.empty() || hub.empty()) throw std::runtime_error("xgated did not start; see " + (dir / "xgated.log").string());
    auto node = [&](const std::string& name) {
      // Periodic checkpoints out of the way: only the moves save.
      auto p = std::make_unique<xgate::process::child_process>(
          std::vector<std::string>{BENCH_NODE_PATH, "node", "--name", name, "--hub", hub, "--secret-file",
                                   (dir / "node.secret").string(), "--store", store, "--checkpoint-ms", "3600000",
                                   "--log-level", "warning"},
          dir / ("node-" + name + ".log"));
      if (!p->wait_line("ready", 30s)) throw std::runtime_error("node " + name + " did not start");
      return p;
    };
    a = node("A");
    b = node("B");
    client = std::make_unique<xn::remote>(xn::remote_options{.hub = hub, .secret_file = (dir / "bench.secret").string(), .as = "bench"});
    if (!client->wait_online("A", 10s) || !client->wait_online("B", 10s)) throw std::runtime_error("nodes not online");
  }
  ~cluster() {
    client.reset();
    a.reset();  // SIGTERM: each suspends what it runs
    b.reset();
    server.reset();
    fs::remove_all(dir);
  }
};

// One cluster at a time (two would share the 2 cores), kept across the state sizes.
std::unique_ptr<cluster> current;
bool current_tls = false;

cluster& cluster_for(bool tls) {
  if (!current || current_tls != tls) {
    current.reset();
    current = std::make_unique<cluster>(tls);
    current_tls = tls;
  }
  return *current;
}

void move_processes(benchmark::State& state) {
  cluster& c = cluster_for(state.range(0) != 0);
  const std::string id = c.client->run("A", "bench-payload", {{"bytes", std::to_string(state.range(1))}}).id;
  std::string at = "A", other = "B";
  std::vector<double> ms, saved_ms;
  for (auto _ : state) {
    xn::protocol::move_reply r = c.client->move(id, other);
    const double s = std::chrono::duration<double>(r.downtime).count();
    state.SetIterationTime(s);
    ms.push_back(s * 1e3);
    saved_ms.push_back(std::chrono::duration<double, std::milli>(r.saved).count());
    std::swap(at, other);
  }
  c.client->kill(id);
  state.counters["p50_ms"] = xgate::bench::percentile(ms, 0.5);
  state.counters["p99_ms"] = xgate::bench::percentile(ms, 0.99);
  // Where the downtime goes: A's part (safe point to handoff committed: encode, sign, the
  // store's PUT) and the rest (the hub's round trip, B's read, verify, decode and claim).
  state.counters["saved_p50_ms"] = xgate::bench::percentile(saved_ms, 0.5);
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  const bool quick = smoke();
  for (int tls : quick ? std::vector<int>{0} : std::vector<int>{0, 1}) {
    for (auto [bytes, moves] : {std::pair{1 << 10, 40}, {1 << 20, 20}, {10 << 20, 6}}) {
      if (quick && bytes > (1 << 10)) continue;
      benchmark::RegisterBenchmark("move_processes", move_processes)
          ->ArgNames({"tls", "state_bytes"})
          ->Args({tls, bytes})
          ->Iterations(quick ? 2 : moves)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  current.reset();  // its processes stopped before this one ends
  benchmark::Shutdown();
  return 0;
}
