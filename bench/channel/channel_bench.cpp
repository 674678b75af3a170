// Channel throughput and latency through the hub on loopback: 1 KB bodies, TCP and
// HTTP long-poll, each plain and in TLS (a certificate from xgate::tls's CA), 1 and 16
// endpoint pairs (sender i -> receiver i, each its own connection).
//
//   BM_Burst/{tcp,tls,long_poll,long_poll_tls}/pairs:N   every sender sends as fast as its window allows;
//                                      items_per_second = messages delivered per second
//   BM_Paced/{tcp,long_poll}/pairs:N   a moderate load: 5,000 messages/s in all, evenly spread
//                                      over the pairs; the latency without queueing
//   .../tcp_postgresql/...             TCP with the hub's store on PostgreSQL (a cluster this
//                                      program starts: fsync and synchronous_commit on)
// Both report p50_us and p99_us: send() to the receiver's callback, per message (the
// envelope's time, set when sent, against the clock at delivery; one machine, one clock).
// The hub writes every message to its store and fsyncs (group commit) before it forwards
// it: XGATE_BENCH_DIR names where the store lives (default: the system temp directory).
// XGATE_BENCH_SMOKE=1 shrinks everything to a smoke run.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <xgate/channel.hpp>
#include <xgate/channel/longpoll.hpp>
#include <xgate/store/postgresql_engine.hpp>
#include <xgate/store/store.hpp>
#include <xgate/tls/certs.hpp>

#include "postgresql.hpp"  // tests/support: a throwaway cluster on a free loopback port

namespace ch = xgate::channel;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

bool smoke() { return std::getenv("XGATE_BENCH_SMOKE") != nullptr; }

fs::path bench_dir() {
  const char* base = std::getenv("XGATE_BENCH_DIR");
  static std::atomic<int> n{0};
  fs::path dir = fs::path(base ? base : fs::temp_directory_path().string()) /
                 ("xgate-channel-bench-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
  fs::remove_all(dir);
  return dir;
}

// A well-formed 1 KB document.
std::string body_1k() {
  std::string head = "<m><data>", tail = "</data></m>";
  return head + std::string(1024 - head.size() - tail.size(), 'x') + tail;
}

enum class transport_kind { tcp, tls, longpoll, longpoll_tls, tcp_postgresql };

// The PostgreSQL side: one cluster per run of this program, as durable as LMDB.
xgate::testing::postgresql_cluster& bench_cluster() {
  static xgate::testing::postgresql_cluster cluster({"fsync=on", "synchronous_commit=on"});
  return cluster;
}

std::unique_ptr<xgate::store::store> open_store(const fs::path& dir, transport_kind kind, std::string& database) {
  if (kind != transport_kind::tcp_postgresql) return std::make_unique<xgate::store::store>(dir);
  static int n = 0;
  database = "bench_" + std::to_string(::getpid()) + "_" + std::to_string(n++);
  bench_cluster().create_database(database);
  return std::make_unique<xgate::store::store>(std::make_unique<xgate::store::postgresql_engine>(bench_cluster().uri(database)));
}

// A hub with both transports on a fresh store, and n sender/receiver pairs logged in.
struct rig {
  fs::path dir = bench_dir();
  std::string database;  // set on PostgreSQL
  std::unique_ptr<xgate::store::store> st;
  std::unique_ptr<ch::hub> h;
  std::unique_ptr<ch::tcp_hub_server> tcp;
  std::unique_ptr<ch::longpoll_hub_server> lp;
  std::vector<std::unique_ptr<ch::endpoint>> senders, receivers;

  std::mutex m;
  std::condition_variable cv;
  std::size_t received = 0;
  std::vector<double> latencies_us;

  rig(transport_kind kind, std::size_t pairs) : st(open_store(dir, kind, database)) {
    xgate::store::credential_request r;
    r.label = "bench";
    std::string token = st->issue_credential(xgate::store::caller("bench"), r);
    h = std::make_unique<ch::hub>(*st, ch::hub_options{.context = "bench hub"});
    bool tls = kind == transport_kind::tls || kind == transport_kind::longpoll_tls;
    xgate::tls::server_settings certificate;
    if (tls) {
      xgate::tls::create_ca(dir / "certs");
      xgate::tls::issue(dir / "certs", "hub", {.hosts = {"127.0.0.1"}});
      certificate = {.certificate = dir / "certs" / "hub.crt", .key = dir / "certs" / "hub.key"};
    }
    tcp = std::make_unique<ch::tcp_hub_server>(*h, ch::tcp_server_options{.tls = certificate});
    tcp->start();
    lp = std::make_unique<ch::longpoll_hub_server>(*h, ch::longpoll_server_options{.tls = certificate});
    lp->start();
    auto make = [&](const std::string& name, bool receiver) {
      ch::endpoint_options o;
      o.name = name;
      o.secret = token;
      if (tls) o.transport_settings.tls.ca = dir / "certs" / "ca.crt";
      if (kind == transport_kind::tcp || kind == transport_kind::tls || kind == transport_kind::tcp_postgresql) {
        o.hub = tcp->url();
      } else {
        o.custom_transport = ch::make_http_transport(lp->url(), o.transport_settings, {.http_proxy = "-"});
      }
      o.send_timeout = 60s;
      if (receiver) {
        o.on_message = [this](ch::envelope e) {
          double us = std::chrono::duration<double, std::micro>(std::chrono::system_clock::now() - e.time).count();
          std::lock_guard lock(m);
          latencies_us.push_back(us);
          ++received;
          cv.notify_all();
        };
      }
      auto ep = std::make_unique<ch::endpoint>(std::move(o));
      ep->start();
      return ep;
    };
    for (std::size_t i = 0; i < pairs; ++i) {
      receivers.push_back(make("bench/r" + std::to_string(i), true));
      senders.push_back(make("bench/s" + std::to_string(i), false));
    }
    for (auto* v : {&receivers, &senders})
      for (auto& ep : *v)
        if (!ep->wait_connected(10s)) throw std::runtime_error("bench: " + ep->name() + " did not log in: " + ep->last_error());
  }
  ~rig() {
    senders.clear();
    receivers.clear();
    lp->stop();
    tcp->stop();
    h->stop();
    st.reset();
    if (!database.empty()) bench_cluster().drop_database(database);
    fs::remove_all(dir);
  }

  // Sends per_pair messages from every sender (paced at interval per pair when nonzero)
  // and waits until all arrived.
  void run(std::size_t per_pair, std::chrono::microseconds interval) {
    std::size_t target;
    {
      std::lock_guard lock(m);
      target = received + per_pair * senders.size();
    }
    static const std::string body = body_1k();
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < senders.size(); ++i) {
      threads.emplace_back([&, i] {
        auto next = std::chrono::steady_clock::now();
        for (std::size_t k = 0; k < per_pair; ++k) {
          if (interval.count() > 0) {
            std::this_thread::sleep_until(next);
            next += interval;
          }
          senders[i]->send("bench/r" + std::to_string(i), "bench", body);
        }
      });
    }
    for (auto& t : threads) t.join();
    std::unique_lock lock(m);
    if (!cv.wait_for(lock, 120s, [&] { return received >= target; }))
      throw std::runtime_error("bench: only " + std::to_string(received) + " of " + std::to_string(target) + " arrived");
  }

  void report(benchmark::State& state) {
    std::lock_guard lock(m);
    if (latencies_us.empty()) return;
    std::sort(latencies_us.begin(), latencies_us.end());
    auto at = [&](double q) { return latencies_us[std::min(latencies_us.size() - 1, static_cast<std::size_t>(q * latencies_us.size()))]; };
    state.counters["p50_us"] = at(0.50);
    state.counters["p99_us"] = at(0.99);
    state.SetItemsProcessed(static_cast<std::int64_t>(latencies_us.size()));
  }
};

void BM_Burst(benchmark::State& state, transport_kind kind) {
  auto pairs = static_cast<std::size_t>(state.range(0));
  std::size_t total = smoke() ? 64 : 20000;  // per iteration, over all pairs
  rig r(kind, pairs);
  r.run(std::max<std::size_t>(1, 100 / pairs), 0us);  // warm up: connections, streams, store
  {
    std::lock_guard lock(r.m);
    r.latencies_us.clear();
  }
  for (auto _ : state) r.run(std::max<std::size_t>(1, total / pairs), 0us);
  r.report(state);
}

void BM_Paced(benchmark::State& state, transport_kind kind) {
  auto pairs = static_cast<std::size_t>(state.range(0));
  constexpr double total_rate = 5000;  // messages per second, all pairs together
  std::size_t total = smoke() ? 32 : 5000;  // one second of it
  auto interval = std::chrono::microseconds(static_cast<long long>(1e6 * static_cast<double>(pairs) / total_rate));
  rig r(kind, pairs);
  r.run(std::max<std::size_t>(1, 100 / pairs), 0us);
  {
    std::lock_guard lock(r.m);
    r.latencies_us.clear();
  }
  for (auto _ : state) r.run(std::max<std::size_t>(1, total / pairs), interval);
  r.report(state);
}

void with_pairs(benchmark::internal::Benchmark* b) {
  b->ArgName("pairs")->Arg(1)->Arg(16);
  b->Iterations(smoke() ? 1 : 3)->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK_CAPTURE(BM_Burst, tcp, transport_kind::tcp)->Apply(with_pairs);
BENCHMARK_CAPTURE(BM_Burst, tls, transport_kind::tls)->Apply(with_pairs);
BENCHMARK_CAPTURE(BM_Burst, long_poll, transport_kind::longpoll)->Apply(with_pairs);
BENCHMARK_CAPTURE(BM_Burst, long_poll_tls, transport_kind::longpoll_tls)->Apply(with_pairs);
BENCHMARK_CAPTURE(BM_Burst, tcp_postgresql, transport_kind::tcp_postgresql)->Apply(with_pairs);
BENCHMARK_CAPTURE(BM_Paced, tcp, transport_kind::tcp)->Apply(with_pairs);
BENCHMARK_CAPTURE(BM_Paced, tls, transport_kind::tls)->Apply(with_pairs);
BENCHMARK_CAPTURE(BM_Paced, long_poll, transport_kind::longpoll)->Apply(with_pairs);
BENCHMARK_CAPTURE(BM_Paced, long_poll_tls, transport_kind::longpoll_tls)->Apply(with_pairs);
BENCHMARK_CAPTURE(BM_Paced, tcp_postgresql, transport_kind::tcp_postgresql)->Apply(with_pairs);

}  // namespace

BENCHMARK_MAIN();
