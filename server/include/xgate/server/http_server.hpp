// xgated's HTTP server: one store served over HTTP/1.1 as described in server/API.md, plus a
// read-only browser view (/browse/, /view/). Every request acts as the caller the store's
// authenticate() gives for its bearer token (or, for the browser pages, its xgate_token cookie).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include <xgate/base/log.hpp>
#include <xgate/base/metrics.hpp>
#include <xgate/store/store.hpp>
#include <xgate/tls/context.hpp>

namespace xgate::server {

// Every limit of the server; server/API.md lists them with xgated's flags.
struct server_options {
  std::string address = "127.0.0.1";  // an IPv4 or IPv6 address to listen on
  unsigned short port = 0;            // 0: a free port, see http_server::port()
  // Request bodies over this many bytes get 413 before the body is read into memory.
  std::size_t max_document = std::size_t{16} << 20;
  // Query answers and document views over this many bytes get 507 too_large; the size is
  // checked as the answer is produced.
  std::size_t max_response = std::size_t{64} << 20;
  // A query's budgets (store::query_options): past its time or memory budget it is answered
  // 422 query_too_expensive. Its result budget is max_response. A query is cancelled when
  // its client hangs up, and when the server stops.
  std::chrono::milliseconds query_time{5000};
  std::size_t query_memory = std::size_t{512} << 20;
  // Queries evaluating at once; one more is answered 503 unavailable (Retry-After). Queries
  // take CPU, not the disk: 0 = max(2, hardware threads), and fewer than the store threads,
  // so that queries (each up to query_time) never take every store thread.
  std::size_t max_queries = 0;
  // Failed logins (a token the store does not know, or an expired or revoked one) from one
  // client address: past max_failed_logins within failed_login_window, every request from
  // that address that carries a token is answered 429 (Retry-After) until the window that
  // began with its first failure ends; the access log says when an address reaches the
  // limit. 0: no limit.
  std::size_t max_failed_logins = 20;
  std::chrono::seconds failed_login_window{60};
  // The access log (component "xgated"): one info line per request (never tokens, cookies
  // or credential bodies), warnings for refused handshakes and login limits. May be null;
  // must outlive the server.
  xgate::logger* log = nullptr;
  // Threads doing network I/O (asynchronous: no thread per connection): 0 = max(2, hardware
  // threads). Threads running store operations: 0 = 32. Store operations block, mostly on
  // the disk, and concurrent writes share one commit (the store's group commit), so there
  // are more of them than cores; each may hold one of the store's reader slots.
  std::size_t threads = 0;
  std::size_t store_threads = 0;
  // Open connections in total and from one client address; one more is answered 503
  // (Retry-After) and closed. Long polls count as the connections they are.
  std::size_t max_connections = 4096;
  std::size_t max_connections_per_address = 256;
  // A connection that starts no request for this long is closed; a response the client does
  // not take within this long too.
  std::chrono::milliseconds idle_timeout{60000};
  // A request's headers must arrive within this long of its first byte, its body within
  // this long of its headers; otherwise the connection is closed (slow senders hold nothing).
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{60000};
  // TLS (xgate::tls's policy: 1.2 at least, modern suites) when tls.certificate is set:
  // url() is then https://. With tls.ca, clients may present certificates signed by it, and
  // must with tls.require_client_certificate (mutual TLS); a verified certificate's common
  // name is a principal: a request without a token acts as it, one with a token must be its.
  // A plain-HTTP request on the TLS port is answered 400 in plain HTTP ("use https://").
  xgate::tls::server_settings tls;
  // Operations (server/API.md "Metrics and health"). more_metrics appends families of what
  // runs beside the server (xgated's hub) to GET /metrics; readiness says "" when that is
  // ready for GET /readyz, else why not. Both are called on a store thread, per request.
  std::function<void(xgate::metrics::text&)> more_metrics;
  std::function<std::string()> readiness;
};

class http_server {
 public:
  // The store must outlive the server.
  http_server(store::store& s, server_options options = {});
  ~http_server();  // stop()
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // Binds and listens, then serves on background threads (options.threads for I/O,
  // options.store_threads for store operations, one for long polls). Throws std::system_error
  // when the address cannot be bound, xgate::tls::tls_error when options.tls's files cannot be
  // used, std::logic_error when called twice.
  void start();
  // The port listened on (the chosen one when options.port was 0); 0 before start().
  unsigned short port() const noexcept;
  // "http://ADDRESS:PORT", or "https://ADDRESS:PORT" with TLS
  std::string url() const;
  // With TLS: reads options.tls's files again (renewed certificates); connections accepted
  // from now on use them, open ones keep theirs. tls_error when they cannot be used: the
  // old ones stay. Without TLS: nothing.
  void reload_tls();
  // Closes the listener and every connection (long polls are cut without an answer) and
  // joins all threads. Idempotent; running queries are cancelled, other in-flight store
  // operations finish first.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace xgate::server
