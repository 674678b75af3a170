// The workloads and contenders of one run, and the check every contender passes once
// before it is timed: decode(encode(workload)) must equal the workload.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "codecs.hpp"
#include "workloads.hpp"

namespace bench {

struct sizes {
  std::size_t records = 100'000;
  std::size_t tree = 200'000;
  std::size_t graph = 100'000;
  std::size_t strings = 50'000;
  std::size_t doubles = 1'000'000;

  static sizes full() { return {}; }
  static sizes smoke() { return {100, 200, 100, 50, 1000}; }
  sizes scaled(double factor) const;
};

// A workload built on first use and kept until released.
class workload_base {
 public:
  explicit workload_base(std::string name) : name_(std::move(name)) {}
  virtual ~workload_base() = default;
  const std::string& name() const { return name_; }
  virtual void release() = 0;

 private:
  std::string name_;
};

template <class W>
class workload final : public workload_base {
 public:
  workload(std::string name, std::function<W()> make) : workload_base(std::move(name)), make_(std::move(make)) {}
  const W& get() {
    if (!data_) data_ = std::make_unique<W>(make_());
    return *data_;
  }
  void release() override { data_.reset(); }

 private:
  std::function<W()> make_;
  std::unique_ptr<W> data_;
};

// A codec as seen for one workload type.
template <class W>
struct contender {
  std::string_view name;
  std::string (*encode)(const W&);
  void (*decode)(std::string_view, W&);
};

template <class Codec, class W>
contender<W> contender_of() {
  return {Codec::name, &Codec::template encode<W>, &Codec::template decode<W>};
}

template <class W>
std::vector<contender<W>> codecs() {
  return {contender_of<xgate_codec, W>(), contender_of<boost_xml_codec, W>(), contender_of<boost_binary_codec, W>(),
          contender_of<cereal_xml_codec, W>()};
}

// What the one check before timing found.
struct verdict {
  bool ok = false;
  std::string skip;   // why the contender is not timed on this workload
  std::string label;  // notes printed next to its results
  std::string bytes;  // its output for the workload
};

// Contenders known not to represent a workload faithfully, and why. nullptr: none.
const char* known_limitation(std::string_view workload, std::string_view contender);

// Characters XML 1.0 cannot carry, written raw (a conforming parser must refuse them).
std::size_t raw_control_bytes(std::string_view xml);

// The verdicts of a run, keyed by "workload/contender"; failures of xgate are codec bugs.
class checker {
 public:
  template <class W>
  verdict& check(workload<W>& wl, const contender<W>& c);
  void forget(const std::string& workload_name);
  const std::vector<std::string>& codec_bugs() const { return codec_bugs_; }

 private:
  verdict& finish(const std::string& workload, std::string_view contender, verdict v, const std::string& failure);
  std::map<std::string, verdict, std::less<>> verdicts_;
  std::vector<std::string> codec_bugs_;
};

template <class W>
verdict& checker::check(workload<W>& wl, const contender<W>& c) {
  std::string key = wl.name() + "/" + std::string(c.name);
  if (auto it = verdicts_.find(key); it != verdicts_.end()) return it->second;
  verdict v;
  std::string failure;
  try {
    const W& original = wl.get();
    v.bytes = c.encode(original);
    auto back = std::make_unique<W>();
    c.decode(v.bytes, *back);
    if (auto d = difference(original, *back)) failure = "the decoded object differs: " + *d;
  } catch (const std::exception& e) {
    failure = std::string("exception: ") + e.what();
  }
  return finish(wl.name(), c.name, std::move(v), failure);
}

// All the workloads of a run.
struct suite {
  explicit suite(const sizes& s);
  workload<Records> records;
  workload<Tree> tree;
  workload<Graph> graph;
  workload<Strings> strings;
  workload<Strings> strings_no_nul;
  workload<Doubles> doubles;
  workload<Doubles> doubles_finite;

  template <class F>
  void for_each(F&& f) {
    f(records);
    f(tree);
    f(graph);
    f(strings);
    f(strings_no_nul);
    f(doubles);
    f(doubles_finite);
  }
};

}  // namespace bench
