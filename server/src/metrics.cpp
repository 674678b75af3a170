#include "metrics.hpp"

#include <array>

#include <xgate/version.hpp>

namespace xgate::server::detail {

std::string_view route_label(std::string_view path) noexcept {
  static constexpr std::array<std::string_view, 21> known{
      "store",  "take",  "info",   "lease", "list",   "query",   "watch",   "credential", "credentials", "revision", "whoami",
      "batch",  "browse", "view",  "login", "logout", "metrics", "healthz", "readyz",     "index",       "indexes"};
  if (path.starts_with('/')) path.remove_prefix(1);
  std::string_view first = path.substr(0, path.find('/'));
  for (std::string_view k : known)
    if (first == k) return k;
  return "other";
}

void write_build_info(xgate::metrics::text& out) {
  out.family("xgate_build_info", "gauge", "The xgate version this process runs (always 1).");
  out.sample("xgate_build_info", {{"version", xgate::version}}, 1);
}

std::string readiness_body(const std::string& why) { return why.empty() ? "ready\n" : "not ready: " + why + "\n"; }

void server_metrics::record(std::string_view path, std::string_view method, unsigned status,
                            std::chrono::steady_clock::duration took) {
  std::string_view route = route_label(path);
  static constexpr std::array<std::string_view, 5> methods{"GET", "HEAD", "PUT", "POST", "DELETE"};
  std::string_view m = "other";
  for (std::string_view k : methods)
    if (method == k) m = k;
  const double seconds = std::chrono::duration<double>(took).count();
  std::lock_guard lock(mutex_);
  ++requests_[{std::string(route), std::string(m), status}];
  auto it = latency_.find(route);
  if (it == latency_.end())
    it = latency_.emplace(std::string(route), std::make_unique<xgate::metrics::histogram>(xgate::metrics::latency_buckets())).first;
  it->second->observe(seconds);
}

void server_metrics::write(xgate::metrics::text& out) const {
  std::lock_guard lock(mutex_);
  out.family("xgate_http_requests_total", "counter", "HTTP requests answered, by route, method and status code.");
  for (const auto& [key, n] : requests_) {
    const auto& [route, method, status] = key;
    out.sample("xgate_http_requests_total", {{"route", route}, {"method", method}, {"code", std::to_string(status)}},
               static_cast<double>(n));
  }
  out.family("xgate_http_request_duration_seconds", "histogram",
             "From a request's first byte until its answer was written, by route.");
  for (const auto& [route, h] : latency_) h->write(out, "xgate_http_request_duration_seconds", {{"route", route}});
}

}  // namespace xgate::server::detail
