#include "benchmarks.hpp"

#include <cstring>
#include <set>

#include <benchmark/benchmark.h>

namespace bench {

namespace {
checker* the_checker = nullptr;
workload_base* current = nullptr;

// Benchmarks run grouped by workload: when a new one starts, the previous one's objects
// and encoded documents are freed, so a run holds one workload at a time.
void enter(workload_base& w) {
  if (current && current != &w) {
    current->release();
    the_checker->forget(current->name());
  }
  current = &w;
}

void report(benchmark::State& state, std::size_t bytes, const std::string& label) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(bytes));
  state.counters["bytes"] = static_cast<double>(bytes);
  if (!label.empty()) state.SetLabel(label);
}

template <class W>
void bm_encode(benchmark::State& state, workload<W>* wl, contender<W> c) {
  enter(*wl);
  verdict& v = the_checker->check(*wl, c);
  if (!v.ok) return state.SkipWithError(v.skip.c_str());
  const W& w = wl->get();
  for (auto _ : state) {
    std::string out = c.encode(w);
    benchmark::DoNotOptimize(out.data());
  }
  report(state, v.bytes.size(), v.label);
}

// Decodes into a fresh object; destroying the result is not part of decoding, so it is
// done with the clock stopped.
template <class W>
void bm_decode(benchmark::State& state, workload<W>* wl, contender<W> c) {
  enter(*wl);
  verdict& v = the_checker->check(*wl, c);
  if (!v.ok) return state.SkipWithError(v.skip.c_str());
  std::string_view in = v.bytes;
  for (auto _ : state) {
    auto out = std::make_unique<W>();
    c.decode(in, *out);
    benchmark::DoNotOptimize(out.get());
    state.PauseTiming();
    out.reset();
    state.ResumeTiming();
  }
  report(state, in.size(), v.label);
}

template <class W>
verdict* xgate_output(benchmark::State& state, workload<W>* wl) {
  enter(*wl);
  verdict& x = the_checker->check(*wl, contender_of<xgate_codec, W>());
  if (!x.ok) {
    state.SkipWithError(("needs xgate's output for this workload, which failed: " + x.skip).c_str());
    return nullptr;
  }
  return &x;
}

// The physical floor: copying xgate's output into memory that is already mapped.
template <class W>
void bm_memcpy(benchmark::State& state, workload<W>* wl) {
  verdict* x = xgate_output(state, wl);
  if (!x) return;
  std::string_view src = x->bytes;
  std::string dst(src.size(), '\0');
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size());
    benchmark::ClobberMemory();
  }
  report(state, src.size(), "copy of xgate's output");
}

// The DOM floor: pugixml parses xgate's output with xgate's flags. The document is built
// and destroyed inside the clock, as it is inside xgate's decode.
template <class W>
void bm_pugixml(benchmark::State& state, workload<W>* wl) {
  static std::set<std::string> checked;
  verdict* x = xgate_output(state, wl);
  if (!x) return;
  std::string_view src = x->bytes;
  if (checked.insert(wl->name()).second) {
    try {
      std::size_t elements = pugixml_parse_check(src);
      std::fprintf(stderr, "checked %-16s %-13s ok, %zu elements\n", wl->name().c_str(), "pugixml_parse", elements);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "\nFATAL: pugixml cannot parse xgate's output for %s: %s\n", wl->name().c_str(), e.what());
      std::exit(3);
    }
  }
  for (auto _ : state) {
    pugixml_parse p;
    p.parse(src);
    benchmark::DoNotOptimize(&p);
  }
  report(state, src.size(), "parse-only of xgate's output");
}

template <class W>
void register_workload(workload<W>& wl) {
  auto add = [](const std::string& name, auto fn, auto... args) {
    benchmark::RegisterBenchmark(name.c_str(), fn, args...)->Unit(benchmark::kMillisecond);
  };
  const std::string& w = wl.name();
  for (const contender<W>& c : codecs<W>()) add("BM_Encode/" + w + "/" + std::string(c.name), bm_encode<W>, &wl, c);
  add("BM_Encode/" + w + "/memcpy", bm_memcpy<W>, &wl);
  for (const contender<W>& c : codecs<W>()) add("BM_Decode/" + w + "/" + std::string(c.name), bm_decode<W>, &wl, c);
  add("BM_Decode/" + w + "/pugixml_parse", bm_pugixml<W>, &wl);
  add("BM_Decode/" + w + "/memcpy", bm_memcpy<W>, &wl);
}
}  // namespace

void register_benchmarks(suite& s, checker& c) {
  the_checker = &c;
  s.for_each([](auto& wl) { register_workload(wl); });
}

}  // namespace bench
