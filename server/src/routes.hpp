// Request handling, apart from the transport (http_server.cpp): the API routes of
// server/API.md (api.cpp) and the browser view (browser.cpp).
#pragma once

#include <functional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http.hpp>

#include <xgate/server/http_server.hpp>
#include <xgate/store/credentials.hpp>
#include <xgate/store/store.hpp>

#include "util.hpp"

namespace xgate::server::detail {

namespace http = boost::beast::http;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

// One request in flight.
struct exchange {
  store::store& store;
  const server_options& options;
  std::stop_token stop;                // the server is stopping: cut long polls short
  std::function<bool()> peer_gone;     // the client hung up (checked during long polls)
  std::string principal;               // set once authenticated, for the access log
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

// The response for any request; never throws.
response handle(exchange& x, const request& req);

// A text/plain error response (one line) with X-Xgate-Error.
response error_response(const request& req, http::status status, std::string_view code, std::string_view message);

// Browser view routes (GET /, /login, /login.js, /logout, /browse/..., /view/...; POST /login).
bool is_browser_route(std::string_view path);
response handle_browser(exchange& x, const request& req, const target& t);

// The caller of a request: its bearer token, or (allow_cookie) its xgate_token cookie.
// Throws http_error 401.
store::caller authenticate(exchange& x, const request& req, bool allow_cookie);

// Maps the exception in flight (store_error, access_denied, http_error, other) to status,
// code, message and extra headers.
http_error current_error();

// <document name=... /> of API.md
void put_document_info(std::string& out, const store::document_info& info);

}  // namespace xgate::server::detail
