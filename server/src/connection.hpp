// One client connection, served asynchronously (Beast on Asio): it holds no thread while it
// waits for bytes, for a store call or for a long poll. Reads have deadlines (idle, headers,
// body), requests run on the store pool, long polls wait in watches.hpp.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <xgate/server/http_server.hpp>
#include <xgate/tls/stream.hpp>

#include "metrics.hpp"
#include "routes.hpp"
#include "watches.hpp"

namespace xgate::server::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

class connection;

// What the connections of one server share: the store, the threads, the long polls, the
// access log, and the count of open connections (for the limits and for stop()).
struct core {
  core(store::store& s, server_options o) : store(s), options(std::move(o)) {}

  store::store& store;
  const server_options options;
  asio::io_context ioc;
  std::optional<asio::thread_pool> store_pool;  // store calls block: they run here
  std::optional<watches> waits;
  std::stop_source shutdown;  // requested by stop(): running queries end
  std::optional<query_slots> queries;
  std::optional<xgate::login_limiter> logins;
  std::optional<xgate::tls::server_contexts> tls;  // options.tls: every connection speaks TLS
  server_metrics metrics;                 // every answered request, for GET /metrics

  std::mutex mutex;  // guards what follows
  std::condition_variable all_closed;
  bool stopping = false;
  std::size_t open = 0;                                    // served connections
  std::unordered_map<std::string, std::size_t> per_address;  // served connections by client address
  std::size_t refusing = 0;                                // connections being answered 503
  std::unordered_map<const connection*, std::weak_ptr<connection>> live;

  bool is_stopping() {
    std::lock_guard lock(mutex);
    return stopping;
  }
  // A line of the server's own in the access log ("xgated: " line); line holds nothing a client
  // chose but its address.
  void note(const std::string& line);
  // One access log line; bytes is the body size sent.
  void log(const std::string& peer, const request& req, unsigned status, const std::string& principal, std::size_t bytes,
           std::chrono::steady_clock::time_point t0);
};

class connection : public std::enable_shared_from_this<connection> {
 public:
  // Counted in c.open and c.per_address[address] by the caller; the destructor uncounts.
  connection(core& c, tcp::socket socket, std::string address);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Both run on the connection's strand (post them there). start() begins with the TLS
  // handshake when the server has a certificate.
  void start();
  void close();  // also what stop() posts
  const asio::any_io_executor& executor() const { return executor_; }  // the strand

 private:
  void on_handshake(beast::error_code ec);
  void read_request();
  void on_first_bytes(beast::error_code ec, std::size_t n);
  void read_header();
  void on_header(beast::error_code ec, std::size_t);
  void read_body();
  void on_body(beast::error_code ec, std::size_t);
  void run();  // on the store pool
  void watch_hangup();
  void finish_call(response res);
  void begin_wait(std::shared_ptr<watches::entry> e);
  void on_waiting_read(beast::error_code ec, std::size_t n);
  void finish_wait(response res);
  void send(response res);
  void send_streamed(bool keep);
  void write_part(bool keep);
  void on_sent(beast::error_code ec, bool keep);
  void bad_request(beast::error_code why);
  void refuse_body();
  void drain();

  core& core_;
  const asio::any_io_executor executor_;
  xgate::tls::stream stream_;
  beast::flat_buffer buffer_;
  const std::string address_;
  std::string certified_;  // the verified client certificate's common name (mutual TLS)
  std::string peer_;  // address:port, for the log
  std::optional<http::request_parser<http::string_body>> parser_;
  request req_;
  std::string principal_;
  std::chrono::steady_clock::time_point t0_;
  response res_;
  unsigned status_ = 0;     // of res_, for the log
  std::size_t bytes_ = 0;   // of res_'s body as sent, for the log
  std::optional<http::response<http::empty_body>> head_;  // HEAD: headers only
  std::optional<http::response_serializer<http::empty_body>> head_writer_;
  std::function<std::string()> more_;  // the rest of a streamed answer (exchange::more)
  std::string part_;                   // its part being written
  std::optional<http::response<http::empty_body>> continue_;
  // While a store call or a long poll is in progress, a read watches for the client hanging
  // up: a hang-up cancels the call (call_stop_) and ends the long poll. answer_ holds the
  // answer when it came while that read was still pending.
  std::stop_source call_stop_;
  bool hung_up_ = false;
  std::shared_ptr<watches::entry> waiting_;
  bool waiting_read_ = false;
  std::optional<response> answer_;
  std::unique_ptr<char[]> drain_buffer_;
  std::size_t drained_ = 0;
  std::chrono::steady_clock::time_point drain_until_;
  bool closed_ = false;
};

// A connection over a limit: answered 503 with Retry-After, then closed. Runs on its strand.
class refusal : public std::enable_shared_from_this<refusal> {
 public:
  // Counted in c.refusing by the caller; the destructor uncounts.
  refusal(core& c, tcp::socket socket, std::string message);
  ~refusal();
  void start();
  const asio::any_io_executor& executor() const { return executor_; }  // the strand

 private:
  void answer();
  void drain();
  core& core_;
  const asio::any_io_executor executor_;
  xgate::tls::stream stream_;
  std::string bytes_;  // the whole response
  char sink_[4096];
  std::chrono::steady_clock::time_point until_;
};

}  // namespace xgate::server::detail
