// xgated's HTTP server: one store served over HTTP/1.1 as described in server/API.md, plus a
// read-only browser view (/browse/, /view/). Every request acts as the caller the store's
// authenticate() gives for its bearer token (or, for the browser pages, its xgate_token cookie).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <ostream>
#include <string>

#include <xgate/store/store.hpp>

namespace xgate::server {

struct server_options {
  std::string address = "127.0.0.1";  // an IPv4 or IPv6 address to listen on
  unsigned short port = 0;            // 0: a free port, see http_server::port()
  // Request bodies over this many bytes get 413 before the body is read into memory.
  std::size_t max_document = std::size_t{16} << 20;
  // The access log: one line per request (never tokens, cookies or credential bodies).
  // May be null. Written under a lock; the stream must outlive the server.
  std::ostream* log = nullptr;
  // Each connection has its own thread; past this many the server stops accepting until one
  // closes (new connections wait in the kernel's backlog).
  std::size_t max_connections = 256;
  // A connection that sends nothing for this long (between or within requests) is closed.
  std::chrono::milliseconds idle_timeout{60000};
};

class http_server {
 public:
  // The store must outlive the server.
  http_server(store::store& s, server_options options = {});
  ~http_server();  // stop()
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // Binds and listens, then serves on background threads. Throws std::system_error when the
  // address cannot be bound, std::logic_error when called twice.
  void start();
  // The port listened on (the chosen one when options.port was 0); 0 before start().
  unsigned short port() const noexcept;
  // "http://ADDRESS:PORT"
  std::string url() const;
  // Closes the listener and every connection, cuts long polls short and joins all threads.
  // Idempotent; in-flight store operations finish first.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace xgate::server
