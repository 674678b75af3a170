// Request handling, apart from the transport (http_server.cpp): the API routes of
// server/API.md (api.cpp) and the browser view (browser.cpp).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http.hpp>

#include <xgate/base/login_limit.hpp>
#include <xgate/server/http_server.hpp>
#include <xgate/store/credentials.hpp>
#include <xgate/store/store.hpp>

#include "metrics.hpp"
#include "util.hpp"

namespace xgate::server::detail {

namespace http = boost::beast::http;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

// A long poll (GET /watch) that found no change yet. The transport waits for one without
// holding a thread (watches.hpp) and sends answer(changes found or none, or the store's
// error) when one comes or the timeout passes; answer calls the store, so it runs where a
// store call may block.
struct pending_watch {
  store::caller who;
  std::string prefix;
  std::uint64_t after = 0;
  std::size_t limit = 0;      // changes per answer
  std::uint64_t checked = 0;  // the revision up to which the route found nothing
  std::chrono::milliseconds timeout{0};
  std::function<response(const std::vector<store::change>&, std::exception_ptr)> answer;
};

// The queries a server evaluates at once (server_options::max_queries).
class query_slots {
 public:
  explicit query_slots(std::size_t max) : max_(max) {}
  // One slot while it lives; engaged() is false when all were taken.
  class slot {
   public:
    explicit slot(query_slots& s) : s_(s), engaged_(s.running_.fetch_add(1) < s.max_) {}
    ~slot() { s_.running_.fetch_sub(1); }
    slot(const slot&) = delete;
    slot& operator=(const slot&) = delete;
    bool engaged() const noexcept { return engaged_; }

   private:
    query_slots& s_;
    bool engaged_;
  };
  std::size_t max() const noexcept { return max_; }

 private:
  std::atomic<std::size_t> running_{0};
  std::size_t max_;
};

// One request in flight.
struct exchange {
  store::store& store;
  const server_options& options;
  std::string principal;                // set once authenticated, for the access log
  std::optional<pending_watch> pending;  // set by a long poll instead of its response
  std::stop_token stop;                  // requested when the client hangs up or the server stops
  query_slots* queries = nullptr;        // null: no limit
  xgate::login_limiter* logins = nullptr;  // server_options::max_failed_logins; null: no limit
  std::string address;                   // the client's, for logins
  std::string note;                      // a line the access log adds after the request's
  // With mutual TLS: the common name of the client's verified certificate. A request with no
  // token acts as this principal; one with a token must be this principal's.
  std::string certified;
  const server_metrics* metrics = nullptr;  // for GET /metrics
  // Set by a route whose answer streams: the response's body is its first part, and each call
  // (on a store thread, one at a time) gives the next, "" once the answer is complete. What
  // it throws cuts the answer short: the connection closes before the chunked body's end,
  // which a client reports as an incomplete answer.
  std::function<std::string()> more;
};

// A refusal that is not a store or access error: status, X-Xgate-Error code, message.
struct http_error {
  http::status status;
  std::string code;
  std::string message;
  std::vector<std::pair<std::string, std::string>> headers = {};
};

// The request target split: path percent-decoded per route, query parsed.
struct target {
  std::string_view path;   // raw, before '?'
  std::string_view query;  // raw, after '?'
};
target split_target(std::string_view t);

// The response for any request; never throws. When x.pending is set afterwards, the
// response returned is not to be sent: x.pending->answer gives it later.
response handle(exchange& x, const request& req);
// The error response for the exception in flight (what handle() answers when a route throws).
response error_answer(const request& req);

// Builds a response body that may not grow past a limit (server_options::max_response): the
// size is checked as the body is produced, so the server never holds more than the limit.
// Past it, append throws http_error 507 too_large.
class bounded_body {
 public:
  bounded_body(std::size_t limit, std::string_view what) : limit_(limit), what_(what) {}
  void append(std::string_view s);
  void append_escaped(std::string_view s);  // as escape_into()
  std::string take() { return std::move(out_); }

 private:
  void check(std::size_t more);
  std::string out_;
  std::size_t limit_;
  std::string_view what_;
};

// A text/plain error response (one line) with X-Xgate-Error.
response error_response(const request& req, http::status status, std::string_view code, std::string_view message);

// Browser view routes (GET /, /login, /login.js, /logout, /browse/..., /view/...; POST /login).
bool is_browser_route(std::string_view path);
response handle_browser(exchange& x, const request& req, const target& t);

// The caller of a request: its bearer token, or (allow_cookie) its xgate_token cookie.
// Throws http_error 401.
store::caller authenticate(exchange& x, const request& req, bool allow_cookie);
// The caller a token stands for, within the failed-login limit (x.logins): throws http_error
// 401 unauthorized for a token the store refuses, 429 while the client's address is over
// the limit.
store::caller check_token(exchange& x, const std::string& token);

// Maps the exception in flight (store_error, access_denied, http_error, other) to status,
// code, message and extra headers.
http_error current_error();

// <document name=... /> of API.md
void put_document_info(std::string& out, const store::document_info& info);

}  // namespace xgate::server::detail
