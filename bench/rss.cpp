#include "rss.hpp"

#include <malloc.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <fstream>
#include <sstream>
#include <string>

namespace bench {

namespace {
long status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  std::size_t n = std::strlen(key);
  while (std::getline(in, line))
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':') return std::stol(line.substr(n + 1));
  return -1;
}

// Linux resets the peak (VmHWM) to the current size when "5" is written to clear_refs.
bool reset_peak() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

// Hands freed heap back so the baseline is what is really in use.
void settle() { malloc_trim(0); }

// What the operation left in use (its result), once freed heap is handed back.
long retained_since(long baseline) {
  settle();
  return status_kib("VmRSS") - baseline;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    out += c;
  }
  return out + "\"";
}

struct measurement {
  std::size_t doc_bytes = 0;
  long baseline = 0, peak = 0, retained = 0;
  bool peak_reset = false;
  std::string error;
};

void print(std::string_view workload, std::string_view phase, std::string_view contender, const measurement& m) {
  std::ostringstream o;
  o << "{\"workload\": " << json_string(workload) << ", \"phase\": " << json_string(phase)
    << ", \"contender\": " << json_string(contender);
  if (!m.error.empty()) {
    o << ", \"error\": " << json_string(m.error) << "}";
  } else {
    double doc_kib = static_cast<double>(m.doc_bytes) / 1024.0;
    o << ", \"doc_bytes\": " << m.doc_bytes << ", \"baseline_kib\": " << m.baseline << ", \"peak_kib\": " << m.peak
      << ", \"peak_over_baseline_kib\": " << (m.peak - m.baseline) << ", \"retained_kib\": " << m.retained
      << ", \"peak_over_baseline_per_doc\": " << (doc_kib > 0 ? static_cast<double>(m.peak - m.baseline) / doc_kib : 0.0)
      << ", \"peak_reset\": " << (m.peak_reset ? "true" : "false") << "}";
  }
  std::printf("%s\n", o.str().c_str());
}

template <class F>
measurement measure(F&& run) {
  measurement m;
  settle();
  m.peak_reset = reset_peak();
  m.baseline = status_kib("VmRSS");
  run(m);
  m.peak = status_kib("VmHWM");
  return m;
}

template <class W>
int rss_for(workload<W>& wl, std::string_view phase, std::string_view name) {
  measurement m;
  std::string bytes;
  const char* limit = known_limitation(wl.name(), name);
  try {
    if (name == "pugixml_parse") {
      if (phase != "decode") throw std::runtime_error("pugixml_parse only decodes (parses)");
      bytes = xgate_codec::encode(wl.get());
      wl.release();
      m = measure([&](measurement& mm) {
        pugixml_parse p;
        p.parse(bytes);
        mm.retained = retained_since(mm.baseline);
      });
      m.doc_bytes = bytes.size();
    } else {
      const contender<W>* c = nullptr;
      auto all = codecs<W>();
      for (const auto& k : all)
        if (k.name == name) c = &k;
      if (!c) throw std::runtime_error("unknown contender \"" + std::string(name) + "\"");
      if (phase == "encode") {
        const W& w = wl.get();
        m = measure([&](measurement& mm) {
          bytes = c->encode(w);
          mm.retained = retained_since(mm.baseline);
        });
        m.doc_bytes = bytes.size();
        auto back = std::make_unique<W>();  // the same check as before timing
        c->decode(bytes, *back);
        if (auto d = difference(w, *back)) throw std::runtime_error("the decoded object differs: " + *d);
      } else if (phase == "decode") {
        bytes = c->encode(wl.get());
        wl.release();
        auto out = std::make_unique<W>();
        m = measure([&](measurement& mm) {
          c->decode(bytes, *out);
          mm.retained = retained_since(mm.baseline);
        });
        m.doc_bytes = bytes.size();
        if (auto d = difference(wl.get(), *out)) throw std::runtime_error("the decoded object differs: " + *d);
      } else {
        throw std::runtime_error("phase must be encode or decode");
      }
    }
  } catch (const std::exception& e) {
    m.error = (limit ? std::string("skipped: ") + limit + " [this run: " + e.what() + "]" : std::string(e.what()));
    print(wl.name(), phase, name, m);
    return limit ? 0 : 1;
  }
  print(wl.name(), phase, name, m);
  return 0;
}
}  // namespace

int run_rss(suite& s, std::string_view workload, std::string_view phase, std::string_view contender) {
  // Big blocks straight from mmap, returned on free: the baseline then holds no stale heap.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  int rc = -1;
  s.for_each([&](auto& wl) {
    if (wl.name() == workload) rc = rss_for(wl, phase, contender);
  });
  if (rc == -1) {
    std::fprintf(stderr, "xgate_bench --rss: unknown workload \"%s\"\n", std::string(workload).c_str());
    return 2;
  }
  return rc;
}

}  // namespace bench
