// What xgated tells operators: GET /metrics (Prometheus text), GET /healthz (the process
// answers) and GET /readyz (the store reads and commits, and what runs beside the server is
// ready). server/API.md lists the metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

#include <xgate/base/metrics.hpp>

namespace xgate::server::detail {

// The route a request path counts under: its first segment when it is one of the server's
// ("store", "query", "browse", ...), else "other" (a scanner's paths must not grow the
// metrics without bound).
[[nodiscard]] std::string_view route_label(std::string_view path) noexcept;

// xgate_build_info{version="..."} 1: the first family of every /metrics of xgate's.
void write_build_info(xgate::metrics::text& out);

// What xgated and an ops_server answer alike: /metrics' content type, and /readyz's body
// ("ready\n", or "not ready: WHY\n" with a 503).
inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";
[[nodiscard]] std::string readiness_body(const std::string& why);

class server_metrics {
 public:
  // One answered request. Thread-safe.
  void record(std::string_view path, std::string_view method, unsigned status, std::chrono::steady_clock::duration took);
  // The families of requests: xgate_http_requests_total, xgate_http_request_duration_seconds.
  void write(xgate::metrics::text& out) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, unsigned>, std::uint64_t> requests_;  // route, method, status
  std::map<std::string, std::unique_ptr<xgate::metrics::histogram>, std::less<>> latency_;  // by route
};

}  // namespace xgate::server::detail
