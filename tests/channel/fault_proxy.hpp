// A fault-injecting TCP proxy for the channel's delivery tests.
//
// It listens on 127.0.0.1 (a free port), forwards every connection to a target, and at
// random, from a seed, does what real networks do to a byte stream:
//   - delays a chunk, splits it into several writes, or holds it to coalesce it with the
//     next one (a peer must not assume that one read is one write);
//   - resets both connections in the middle of the stream (after forwarding part of a chunk);
//   - for HTTP/1.1 traffic (http = true): sends a request a second time on another upstream
//     connection (the copy's response is discarded), or swallows a response (then closes the
//     client's connection or leaves it waiting: its timeout has to notice).
// The number of faults is bounded (max_faults): after that it forwards faithfully, so a
// test always ends. Each connection direction draws from its own generator seeded from the
// seed and the connection's number, so a run repeats as far as thread timing allows.
//
// hold(true) stops the client->target direction (faults or not): each connection's pump
// keeps the next chunk a client sends and waits until hold(false), then forwards it; held()
// counts those chunks, so a test can tell that a client is now blocked in a request. The
// target->client direction keeps flowing.
//
// Threads: one accepting, two per connection (one per direction, blocking I/O), one per
// duplicated request. stop() (or the destructor) shuts every socket down and joins them all.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace xgate::channel::testing {

struct fault_options {
  std::uint64_t seed = 1;
  // Per chunk read from either side (a chunk is one read of a random size up to 64 KiB).
  double delay = 0;                              // sleep up to max_delay before forwarding it
  std::chrono::microseconds max_delay{2000};
  double split = 0;                              // write it in 2..8 pieces, pausing between them
  double coalesce = 0;                           // wait up to 2 ms for more and forward both together
  double reset = 0;                              // forward part of it, then reset both connections
  // Per HTTP message, when http is set (requests and responses with a Content-Length or
  // none; a chunked message switches that direction to plain forwarding).
  bool http = false;
  double duplicate_request = 0;  // send it again on a second upstream connection, whose response is discarded
  double drop_response = 0;      // swallow it; then close the client's connection, or (half the time) not
  std::size_t max_faults = 200;  // faults in all (delays, splits and coalescing count too)
};

// What happened so far.
struct fault_counts {
  std::size_t connections = 0, delays = 0, splits = 0, coalesces = 0, resets = 0, duplicates = 0, dropped_responses = 0;
  std::size_t faults() const noexcept { return delays + splits + coalesces + resets + duplicates + dropped_responses; }
};

class fault_proxy {
 public:
  // Listens at once; target is an IPv4 address (e.g. "127.0.0.1"). Throws std::system_error
  // when it cannot listen.
  fault_proxy(std::string target_host, unsigned short target_port, fault_options options = {});
  ~fault_proxy();
  fault_proxy(const fault_proxy&) = delete;
  fault_proxy& operator=(const fault_proxy&) = delete;

  unsigned short port() const noexcept { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }  // host:port

  // From now on forward faithfully (e.g. to let a test drain), or inject faults again.
  void set_faults(bool on) noexcept { faults_on_ = on; }
  // Resets every open connection now (counted as a reset, beyond max_faults).
  void reset_all();
  fault_counts counts() const;

  // While on, data from clients is read but not forwarded: each connection keeps the chunk
  // it read and waits until hold(false) (or stop(), or its connection is reset). hold(true)
  // sets held() to 0; held() then counts the chunks that arrived (one per connection at a
  // time, since a held connection reads no further).
  void hold(bool on);
  std::size_t held() const noexcept { return held_; }

  // Closes the listener and every connection and joins every thread. Idempotent.
  void stop();

 private:
  struct connection;
  struct rng;
  void accept_loop();
  void pump(connection& c, bool upstream);
  void duplicate(connection& c, std::string request);
  bool take_fault();  // whether one more fault is allowed (and counts it)
  void reap(bool all);
  int connect_target() const;
  bool wait_while_held(connection& c);  // false when the connection was killed meanwhile

  std::string target_host_;
  unsigned short target_port_;
  fault_options options_;
  int listen_fd_ = -1, wake_[2] = {-1, -1};
  unsigned short port_ = 0;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false}, faults_on_{true};
  std::atomic<std::size_t> faults_{0};
  std::atomic<std::size_t> held_{0};
  std::mutex hold_mutex_;  // guards holding_
  std::condition_variable hold_changed_;
  bool holding_ = false;

  mutable std::mutex mutex_;  // guards what follows
  std::list<std::shared_ptr<connection>> connections_;
  fault_counts counts_;
  bool stopped_ = false;
};

}  // namespace xgate::channel::testing
