// A small HTTP listener for operators, for a process that serves no HTTP API of its own
// (`migrate node --metrics`): GET /metrics, /healthz and /readyz exactly as xgated answers
// them (server/API.md "Metrics and health"), nothing else.
//
//   xgate::server::ops_server ops({.address = "127.0.0.1", .port = 9464,
//                                  .metrics = [&](xgate::metrics::text& out) { ... },
//                                  .readiness = [&] { return hub_connected ? "" : "not logged in to the hub"; }});
//   ops.start();  // ops.url(): "http://127.0.0.1:9464"
//
// Plain HTTP, no tokens: what it tells is numbers and states, never a name or a document.
// One I/O thread; every connection has a deadline, so a slow client costs a socket, never
// the thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <xgate/base/metrics.hpp>

namespace xgate::server {

struct ops_options {
  std::string address = "127.0.0.1";
  unsigned short port = 0;  // 0: a free port
  // Writes the families of GET /metrics after xgate_build_info. Called on the I/O thread.
  std::function<void(xgate::metrics::text&)> metrics;
  // "" when ready, else why not (GET /readyz: 503 "not ready: REASON"). nullptr: always ready.
  std::function<std::string()> readiness;
  std::chrono::milliseconds timeout{10000};  // a request not read and answered within it: closed
  std::size_t max_connections = 64;          // one more is closed at once
};

class ops_server {
 public:
  explicit ops_server(ops_options options);
  ~ops_server();  // stop()
  ops_server(const ops_server&) = delete;
  ops_server& operator=(const ops_server&) = delete;

  // Binds and serves on a background thread. std::system_error when the address cannot be
  // bound; std::logic_error when called twice.
  void start();
  unsigned short port() const noexcept;  // the bound port; 0 before start()
  std::string url() const;               // "http://ADDRESS:PORT"
  void stop();                           // closes every connection, joins the thread; idempotent

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace xgate::server
