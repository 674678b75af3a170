// Store throughput: the local store and xgated on loopback, on LMDB and side by side on
// PostgreSQL (pg:1; a cluster this program starts, see bench_cluster).
//
//   BM_Store{Write,Read,Take}/bytes:N           one operation per transaction, N-byte documents
//   BM_StoreWrite/bytes:N/pg:P/writers:W        W threads writing at once (group commit)
//   BM_StoreWriteBatched/bytes:N/batch:B        B writes committed together
//   BM_StoreRemoveBatched/bytes:N/batch:B       B removes committed together
//   BM_ServerGet|BM_ServerPut/clients:<n>/tls:T/pg:P   n concurrent HTTP clients, 1 KB
//                                               documents, each a keep-alive connection
//
// items_per_second is documents (or requests) per second; the server benchmarks also
// report p50_us and p99_us, the latency percentiles over every request of the run.
// Writes are durable on both engines: every LMDB commit is an fsync of the store's directory
// (XGATE_BENCH_DIR, default: the system temp directory), and the PostgreSQL cluster runs with
// fsync and synchronous_commit on (its data under the system temp directory), so single
// writes measure the disk.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <xgate/client/http_session.hpp>
#include <xgate/server/http_server.hpp>
#include <xgate/tls/certs.hpp>
#include <xgate/store/postgresql_engine.hpp>
#include <xgate/store/store.hpp>

#include "postgresql.hpp"  // tests/support: a throwaway cluster on a free loopback port

namespace xs = xgate::store;

namespace {

std::filesystem::path bench_dir(const std::string& what) {
  const char* base = std::getenv("XGATE_BENCH_DIR");
  std::filesystem::path dir = std::filesystem::path(base ? base : std::filesystem::temp_directory_path().string()) /
                              ("xgate-store-bench-" + std::to_string(::getpid()) + "-" + what);
  std::filesystem::remove_all(dir);
  return dir;
}

// A well-formed document of exactly `bytes` bytes (plain XML: the writer's rights apply).
std::string document_of(std::size_t bytes) {
  std::string head = "<result><data>", tail = "</data></result>";
  std::string doc = head;
  static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789 ";
  std::mt19937 rng(7);
  while (doc.size() + tail.size() < bytes) doc += alphabet[rng() % (sizeof alphabet - 1)];
  return doc + tail;
}

std::string name_of(std::size_t i) { return "bench/doc-" + std::to_string(i); }

// The PostgreSQL side of the comparison: one cluster per run of this program, started on
// first use, as durable as the LMDB store (fsync and synchronous_commit on).
xgate::testing::postgresql_cluster& bench_cluster() {
  static xgate::testing::postgresql_cluster cluster({"fsync=on", "synchronous_commit=on"});
  return cluster;
}

// One store per benchmark, removed afterwards: LMDB in a directory, or a fresh database.
struct bench_store {
  std::filesystem::path dir;
  std::string database;  // set on PostgreSQL
  std::unique_ptr<xs::store> store;
  explicit bench_store(const std::string& what, bool postgresql = false) : dir(bench_dir(what)) {
    if (!postgresql) {
      store = std::make_unique<xs::store>(dir);
      return;
    }
    database = "bench_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    bench_cluster().create_database(database);
    store = std::make_unique<xs::store>(std::make_unique<xs::postgresql_engine>(
        bench_cluster().uri(database), xs::postgresql_options{.max_connections = 16}));
  }
  ~bench_store() {
    store.reset();
    if (!database.empty()) bench_cluster().drop_database(database);
    std::filesystem::remove_all(dir);
  }
  static inline int counter = 0;
  void fill(std::size_t count, const std::string& doc) {
    for (std::size_t from = 0; from < count; from += 1000) {
      xs::batch b;
      for (std::size_t i = from; i < std::min(count, from + 1000); ++i) b.write(name_of(i), doc);
      store->apply(b, "bench");
    }
  }
};

constexpr std::size_t kDocs = 10000;  // documents read from / replaced in (1 KB; fewer of 64 KB)

std::size_t docs_for(std::size_t bytes) { return bytes > 4096 ? 1000 : kDocs; }

// W writers at once, each writing its own documents: what group commit is for.
bench_store* write_store = nullptr;
void setup_write(const benchmark::State& state) { write_store = new bench_store("write", state.range(1) != 0); }
void teardown_write(const benchmark::State&) {
  delete write_store;
  write_store = nullptr;
}
void BM_StoreWrite(benchmark::State& state) {
  auto bytes = static_cast<std::size_t>(state.range(0));
  std::string doc = document_of(bytes);
  std::size_t i = 0, n = docs_for(bytes) / static_cast<std::size_t>(state.threads());
  std::size_t base = n * static_cast<std::size_t>(state.thread_index());
  for (auto _ : state) write_store->store->write(name_of(base + i++ % n), doc, "bench");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}

void BM_StoreWriteBatched(benchmark::State& state) {
  auto bytes = static_cast<std::size_t>(state.range(0));
  auto per_batch = static_cast<std::size_t>(state.range(1));
  bench_store s("write-batched", state.range(2) != 0);
  std::string doc = document_of(bytes);
  std::size_t i = 0, n = docs_for(bytes);
  for (auto _ : state) {
    xs::batch b;
    for (std::size_t k = 0; k < per_batch; ++k) b.write(name_of(i++ % n), doc);
    s.store->apply(b, "bench");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(per_batch));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(per_batch * bytes));
}

// Reads from every thread at once: LMDB readers do not block each other. The store is
// made by setup_read before any thread starts and removed by teardown_read after all stop.
bench_store* read_store = nullptr;
void setup_read(const benchmark::State& state) {
  auto bytes = static_cast<std::size_t>(state.range(0));
  read_store = new bench_store("read-" + std::to_string(bytes));
  read_store->fill(docs_for(bytes), document_of(bytes));
}
void teardown_read(const benchmark::State&) {
  delete read_store;
  read_store = nullptr;
}
void BM_StoreRead(benchmark::State& state) {
  auto bytes = static_cast<std::size_t>(state.range(0));
  std::size_t n = docs_for(bytes), got = 0;
  std::minstd_rand rng(static_cast<unsigned>(state.thread_index() + 1));
  for (auto _ : state) got += read_store->store->read(name_of(rng() % n), "bench").xml.size();
  benchmark::DoNotOptimize(got);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}

void BM_StoreTake(benchmark::State& state) {
  auto bytes = static_cast<std::size_t>(state.range(0));
  bench_store s("take");
  std::string doc = document_of(bytes);
  std::size_t n = docs_for(bytes), left = 0, next = 0;
  for (auto _ : state) {
    if (left == 0) {
      state.PauseTiming();
      s.fill(n, doc);
      left = n;
      next = 0;
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(s.store->take(name_of(next++), "bench"));
    --left;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}

void BM_StoreRemoveBatched(benchmark::State& state) {
  auto bytes = static_cast<std::size_t>(state.range(0));
  auto per_batch = static_cast<std::size_t>(state.range(1));
  bench_store s("remove-batched");
  std::string doc = document_of(bytes);
  std::size_t n = docs_for(bytes) / per_batch * per_batch, left = 0, next = 0;
  for (auto _ : state) {
    if (left == 0) {
      state.PauseTiming();
      s.fill(n, doc);
      left = n;
      next = 0;
      state.ResumeTiming();
    }
    xs::batch b;
    for (std::size_t k = 0; k < per_batch; ++k) b.remove(name_of(next++));
    s.store->apply(b, "bench");
    left -= per_batch;
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(per_batch));
}

// ---- xgated on loopback ---------------------------------------------------------------------
// In-process server on 127.0.0.1, clients on their own threads, each with its own keep-alive
// connection (http_session). One benchmark iteration: every client sends kRequests requests;
// the iteration's time is the wall time until the last one is answered.

constexpr int kRequests = 2000;

// The documents the server benchmarks read and replace; XGATE_BENCH_SMOKE: a few.
std::size_t server_docs() { return std::getenv("XGATE_BENCH_SMOKE") ? 100 : kDocs; }

struct server_fixture {
  bench_store s;
  std::unique_ptr<xgate::server::http_server> server;
  std::string token;
  std::string doc = document_of(1024);
  xgate::client::client_options client;  // trusts the server's CA when it speaks TLS
  server_fixture(bool tls, bool postgresql) : s("server", postgresql) {
    s.fill(server_docs(), doc);
    token = s.store->issue_credential("bench", xs::credential_request{});
    xgate::server::server_options o;
    o.port = 0;
    if (tls) {
      std::filesystem::path certs = s.dir.string() + "-certs";
      xgate::tls::create_ca(certs);
      xgate::tls::issue(certs, "server", {.hosts = {"127.0.0.1"}});
      o.tls = {.certificate = certs / "server.crt", .key = certs / "server.key"};
      client.tls.ca = certs / "ca.crt";
    }
    server = std::make_unique<xgate::server::http_server>(*s.store, o);
    server->start();
  }
  ~server_fixture() {
    server.reset();
    std::filesystem::remove_all(s.dir.string() + "-certs");
  }
};

server_fixture* fixture = nullptr;
void setup_server(const benchmark::State& state) { fixture = new server_fixture(state.range(1) != 0, state.range(2) != 0); }
void teardown_server(const benchmark::State&) {
  delete fixture;
  fixture = nullptr;
}

template <bool Put>
void server_requests(benchmark::State& state) {
  auto clients = static_cast<std::size_t>(state.range(0));
  // ~4000 requests per iteration; XGATE_BENCH_SMOKE (the CTest smoke run): a few.
  int per_client = std::getenv("XGATE_BENCH_SMOKE") ? 2 : std::max(1, kRequests * 2 / static_cast<int>(clients));
  std::vector<std::unique_ptr<xs::session>> sessions;
  for (std::size_t c = 0; c < clients; ++c) {
    sessions.push_back(xgate::client::http_session(fixture->server->url(), fixture->token, fixture->client));
    sessions.back()->revision();  // connect outside the timed part
  }
  std::vector<double> latencies_us;
  std::int64_t requests = 0;
  for (auto _ : state) {
    std::vector<std::vector<double>> lat(clients);
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (std::size_t c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        std::minstd_rand rng(static_cast<unsigned>(c + 1));
        lat[c].reserve(static_cast<std::size_t>(per_client));
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        for (int i = 0; i < per_client; ++i) {
          auto t0 = std::chrono::steady_clock::now();
          if constexpr (Put) sessions[c]->write(name_of(rng() % server_docs()), fixture->doc);
          else benchmark::DoNotOptimize(sessions[c]->read(name_of(rng() % server_docs())));
          lat[c].push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
        }
      });
    }
    auto start = std::chrono::steady_clock::now();
    go.store(true, std::memory_order_release);
    for (std::thread& t : threads) t.join();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    for (auto& l : lat) latencies_us.insert(latencies_us.end(), l.begin(), l.end());
    requests += static_cast<std::int64_t>(clients) * per_client;
  }
  std::sort(latencies_us.begin(), latencies_us.end());
  auto pct = [&](double p) { return latencies_us.empty() ? 0.0 : latencies_us[static_cast<std::size_t>(p * static_cast<double>(latencies_us.size() - 1))]; };
  state.counters["p50_us"] = pct(0.50);
  state.counters["p99_us"] = pct(0.99);
  state.SetItemsProcessed(requests);
}

void BM_ServerGet(benchmark::State& state) { server_requests<false>(state); }
void BM_ServerPut(benchmark::State& state) { server_requests<true>(state); }

}  // namespace

// clients, then tls (0: plain HTTP, 1: HTTPS with connections established before timing),
// then pg (0: LMDB, 1: PostgreSQL; plain HTTP only).
void server_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"clients", "tls", "pg"});
  for (int clients : {1, 8, 64}) {
    for (int tls : {0, 1}) b->Args({clients, tls, 0});
    b->Args({clients, 0, 1});
  }
  b->Iterations(3)->UseManualTime()->Setup(setup_server)->Teardown(teardown_server)->Unit(benchmark::kMillisecond);
}
BENCHMARK(BM_ServerGet)->Apply(server_args);
BENCHMARK(BM_ServerPut)->Apply(server_args);
BENCHMARK(BM_StoreWrite)->ArgNames({"bytes", "pg"})->ArgsProduct({{1024, 65536}, {0, 1}})->Threads(1)->Threads(8)
    ->UseRealTime()->Setup(setup_write)->Teardown(teardown_write)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StoreWriteBatched)->ArgNames({"bytes", "batch", "pg"})->Args({1024, 100, 0})->Args({1024, 1000, 0})->Args({65536, 100, 0})
    ->Args({1024, 100, 1})->Args({1024, 1000, 1})->Args({65536, 100, 1})->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StoreRead)->ArgName("bytes")->Arg(1024)->Arg(65536)->Threads(1)->Threads(2)->UseRealTime()->Setup(setup_read)->Teardown(teardown_read)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StoreTake)->ArgName("bytes")->Arg(1024)->Arg(65536)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StoreRemoveBatched)->ArgNames({"bytes", "batch"})->Args({1024, 100})->Args({65536, 100})->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
