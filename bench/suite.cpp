#include "suite.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace bench {

sizes sizes::scaled(double factor) const {
  auto scale = [&](std::size_t n) { return std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(static_cast<double>(n) * factor))); };
  return {scale(records), scale(tree), scale(graph), scale(strings), scale(doubles)};
}

suite::suite(const sizes& s)
    : records("records", [n = s.records] { return make_records(n); }),
      tree("tree", [n = s.tree] { return make_tree(n); }),
      graph("graph", [n = s.graph] { return make_graph(n); }),
      strings("strings", [n = s.strings] { return make_strings(n, true); }),
      strings_no_nul("strings_no_nul", [n = s.strings] { return make_strings(n, false); }),
      doubles("doubles", [n = s.doubles] { return make_doubles(n, true); }),
      doubles_finite("doubles_finite", [n = s.doubles] { return make_doubles(n, false); }) {}

namespace {
struct limitation {
  std::string_view workload, contender;
  const char* why;
};
// Each entry is checked on every run: the contender's round trip must still fail, and the
// failure is printed with the reason (bench/README.md explains each).
constexpr limitation limitations[] = {
    {"strings", "cereal_xml",
     "cereal's XML archive cuts strings at the first NUL byte (XMLOutputArchive::saveValue goes through a C string)"},
    {"doubles", "boost_xml",
     "Boost's xml_iarchive cannot read back the inf/nan it writes (it reads numbers with istream >> double); NaN payloads "
     "would be lost as well"},
    {"doubles", "cereal_xml",
     "cereal's XML archive writes every NaN as \"nan\": payloads, signs and signalling NaNs are lost"},
};
}  // namespace

const char* known_limitation(std::string_view workload, std::string_view contender) {
  for (const limitation& l : limitations)
    if (l.workload == workload && l.contender == contender) return l.why;
  return nullptr;
}

std::size_t raw_control_bytes(std::string_view xml) {
  std::size_t n = 0;
  for (unsigned char c : xml)
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') ++n;
  return n;
}

verdict& checker::finish(const std::string& workload, std::string_view contender, verdict v, const std::string& failure) {
  std::string key = workload + "/" + std::string(contender);
  const char* limit = known_limitation(workload, contender);
  if (failure.empty()) {
    v.ok = true;
    if (contender != "boost_binary") {
      if (std::size_t raw = raw_control_bytes(v.bytes))
        v.label = "round-trips, but the output is not well-formed XML: " + std::to_string(raw) + " raw control bytes";
    }
    if (limit) {
      std::fprintf(stderr, "note: %s round-trips %s although it is listed as unable to (%s); timing it\n",
                   std::string(contender).c_str(), workload.c_str(), limit);
      v.label += (v.label.empty() ? "" : "; ") + std::string("listed as unable but round-trips");
    }
    std::fprintf(stderr, "checked %-16s %-13s ok, %zu bytes%s%s\n", workload.c_str(), std::string(contender).c_str(),
                 v.bytes.size(), v.label.empty() ? "" : ": ", v.label.c_str());
  } else if (contender == "xgate") {
    v.skip = "CODEC BUG: xgate does not round-trip the " + workload + " workload: " + failure;
    codec_bugs_.push_back(v.skip);
    std::fprintf(stderr, "\n*** %s\n\n", v.skip.c_str());
  } else if (limit) {
    v.skip = std::string("skipped: ") + limit + " [this run: " + failure + "]";
    std::fprintf(stderr, "checked %-16s %-13s SKIPPED: %s\n    this run: %s\n", workload.c_str(),
                 std::string(contender).c_str(), limit, failure.c_str());
  } else {
    std::fprintf(stderr,
                 "\nFATAL: %s does not round-trip the %s workload: %s\n"
                 "A contender whose decode differs from the original must not be timed. Fix the description in bench/, or,\n"
                 "if the library cannot represent this data, list it in `limitations` (bench/suite.cpp) with the reason.\n",
                 std::string(contender).c_str(), workload.c_str(), failure.c_str());
    std::exit(3);
  }
  return verdicts_.emplace(std::move(key), std::move(v)).first->second;
}

void checker::forget(const std::string& workload_name) {
  std::string prefix = workload_name + "/";
  std::erase_if(verdicts_, [&](const auto& kv) { return kv.first.starts_with(prefix); });
}

}  // namespace bench
