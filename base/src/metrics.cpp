#include <xgate/base/metrics.hpp>

#include <cmath>
#include <cstdio>

namespace xgate::metrics {

namespace {

void append_value(std::string& out, double v) {
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  char b[32];
  // Integers as integers (counters read better); others to 15 digits (0.0005, not 0.00050000000000000001).
  if (v == std::floor(v) && std::fabs(v) < 1e15) std::snprintf(b, sizeof b, "%.0f", v);
  else std::snprintf(b, sizeof b, "%.15g", v);
  out += b;
}

void append_labels(std::string& out, const labels& ls) {
  if (ls.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : ls) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    for (char c : v) {
      if (c == '\\') out += "\\\\";
      else if (c == '"') out += "\\\"";
      else if (c == '\n') out += "\\n";
      else out += c;
    }
    out += '"';
  }
  out += '}';
}

}  // namespace

void text::family(std::string_view name, std::string_view type, std::string_view help) {
  out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void text::sample(std::string_view name, const labels& ls, double value) {
  out_.append(name);
  append_labels(out_, ls);
  out_ += ' ';
  append_value(out_, value);
  out_ += '\n';
}

histogram::histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i] = 0;
}

void histogram::observe(double value) noexcept {
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

void histogram::write(text& out, std::string_view name, const labels& ls) const {
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    labels with_le = ls;
    std::string le;
    if (i == bounds_.size()) {
      le = "+Inf";
    } else {
      append_value(le, bounds_[i]);
    }
    with_le.emplace_back("le", std::move(le));
    out.sample(bucket, with_le, static_cast<double>(cumulative));
  }
  out.sample(std::string(name) + "_sum", ls, sum_.load(std::memory_order_relaxed));
  out.sample(std::string(name) + "_count", ls, static_cast<double>(cumulative));
}

std::vector<double> latency_buckets() { return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}; }

}  // namespace xgate::metrics
