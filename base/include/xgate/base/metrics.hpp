// Metrics in the Prometheus text exposition format (version 0.0.4), what GET /metrics
// answers: https://prometheus.io/docs/instrumenting/exposition_formats/
//
//   xgate::metrics::text out;
//   out.family("xgate_store_revision", "gauge", "The store's last revision.");
//   out.sample("xgate_store_revision", {}, 42);
//   latency.write(out, "xgate_http_request_duration_seconds", {{"route", "store"}});
//   std::string body = std::move(out).str();
//
// Debian packages no C++ Prometheus client; the format is small enough to write here.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xgate::metrics {

using labels = std::vector<std::pair<std::string, std::string>>;

// A scrape's text, family by family: family() once, then its samples.
class text {
 public:
  // "# HELP NAME HELP" and "# TYPE NAME TYPE" (TYPE: counter, gauge, histogram).
  void family(std::string_view name, std::string_view type, std::string_view help);
  // "NAME{k="v",...} VALUE"; label values are escaped (\\, \", \n).
  void sample(std::string_view name, const labels& ls, double value);
  std::string str() && { return std::move(out_); }

 private:
  std::string out_;
};

// Observations counted into fixed buckets (cumulative on output, as Prometheus wants), with
// their sum and count. observe() is lock-free and may race with write(): a scrape may see an
// observation in its bucket but not yet in the sum, which the next scrape settles.
class histogram {
 public:
  explicit histogram(std::vector<double> upper_bounds);  // ascending; +Inf is added
  void observe(double value) noexcept;
  // NAME_bucket{...,le="B"}, NAME_sum, NAME_count (the family line is the caller's).
  void write(text& out, std::string_view name, const labels& ls) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // one per bound, then +Inf
  std::atomic<double> sum_{0};
};

// Buckets for request latencies in seconds: 0.5 ms to 10 s.
[[nodiscard]] std::vector<double> latency_buckets();

}  // namespace xgate::metrics
