// What the API routes and the browser view share: authentication, error responses, and
// bodies bounded by server_options::max_response.
#include <algorithm>
#include <new>

#include <xgate/store/error.hpp>
#include <xgate/xmlcodec/error.hpp>

#include "routes.hpp"

namespace xgate::server::detail {

store::caller authenticate(exchange& x, const request& req, bool allow_cookie) {
  std::string token;
  auto auth = req.find(http::field::authorization);
  if (auth != req.end()) {
    std::string_view v = auth->value();
    constexpr std::string_view scheme = "bearer ";
    bool bearer = v.size() > scheme.size() && std::equal(scheme.begin(), scheme.end(), v.begin(), [](char a, char b) {
                    return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : b);
                  });
    if (!bearer)
      throw http_error{http::status::unauthorized, "unauthorized",
                       "unsupported authorization scheme: send Authorization: Bearer TOKEN",
                       {{"WWW-Authenticate", "Bearer realm=\"xgated\""}}};
    v.remove_prefix(scheme.size());
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    token = v;
  } else if (allow_cookie) {
    for (auto it = req.find(http::field::cookie); it != req.end() && it->name() == http::field::cookie; ++it) {
      std::string_view c = it->value();
      while (!c.empty()) {
        std::size_t semi = c.find(';');
        std::string_view pair = c.substr(0, semi);
        c = semi == std::string_view::npos ? std::string_view{} : c.substr(semi + 1);
        while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
        constexpr std::string_view key = "xgate_token=";
        if (pair.starts_with(key)) token = pair.substr(key.size());
      }
    }
  }
  if (token.empty() && !x.certified.empty()) {
    x.principal = x.certified;
    return store::caller(x.certified);
  }
  if (token.empty())
    throw http_error{http::status::unauthorized, "unauthorized", "missing bearer token: send Authorization: Bearer TOKEN",
                     {{"WWW-Authenticate", "Bearer realm=\"xgated\""}}};
  store::caller who = check_token(x, token);
  if (!x.certified.empty() && who.principal() != x.certified)
    throw http_error{http::status::unauthorized, "unauthorized",
                     "the token is " + who.principal() + "'s but the client certificate is " + x.certified + "'s",
                     {{"WWW-Authenticate", "Bearer realm=\"xgated\""}}};
  return who;
}

store::caller check_token(exchange& x, const std::string& token) {
  if (x.logins) {
    std::chrono::seconds wait = x.logins->blocked(x.address);
    if (wait.count() > 0)
      throw http_error{http::status::too_many_requests, "unavailable", x.logins->refusal(x.address, wait),
                       {{"Retry-After", std::to_string(wait.count())}}};
  }
  try {
    store::caller who = x.store.authenticate(token);
    x.principal = who.principal();
    return who;
  } catch (const store::store_error& e) {
    if (e.code() != store::store_errc::bad_credential) throw;
    if (x.logins && x.logins->failed(x.address))
      x.note = x.logins->reached(x.address) + ": its requests with a token are refused (429) until the window ends";
    throw http_error{http::status::unauthorized, "unauthorized", e.what(), {{"WWW-Authenticate", "Bearer realm=\"xgated\""}}};
  }
}

http_error current_error() {
  try {
    throw;
  } catch (const http_error& e) {
    return e;
  } catch (const xgate::access_denied& e) {
    return {http::status::forbidden,
            "access_denied",
            e.what(),
            {{"X-Xgate-Principal", header_safe(e.principal())},
             {"X-Xgate-Right", header_safe(e.right())},
             {"X-Xgate-Document", header_safe(e.document())}}};
  } catch (const store::store_error& e) {
    http::status s = http::status::internal_server_error;
    switch (e.reason()) {
      case store::store_errc::not_found: s = http::status::not_found; break;
      case store::store_errc::conflict: s = http::status::conflict; break;
      case store::store_errc::bad_name:
      case store::store_errc::bad_document:
      case store::store_errc::bad_xpath:
      case store::store_errc::bad_cursor:
      case store::store_errc::bad_credential:  // a malformed credential request (authenticate() failures are 401)
        s = http::status::bad_request;
        break;
      case store::store_errc::creator_mismatch:
      case store::store_errc::rights_change: s = http::status::forbidden; break;
      case store::store_errc::no_lease: s = http::status::conflict; break;
      case store::store_errc::history_lost:
      case store::store_errc::revision_gone: s = http::status::gone; break;
      case store::store_errc::too_large: s = http::status::payload_too_large; break;
      case store::store_errc::lmdb:
      case store::store_errc::postgresql:
      case store::store_errc::insecure_permissions: s = http::status::internal_server_error; break;
      case store::store_errc::engine_unavailable:
        return {http::status::service_unavailable, "engine_unavailable", e.what(), {{"Retry-After", "1"}}};
      case store::store_errc::query_too_expensive: s = http::status::unprocessable_entity; break;
      case store::store_errc::no_space: s = http::status::insufficient_storage; break;
      case store::store_errc::cancelled:
        return {http::status::service_unavailable, "cancelled", e.what(), {{"Retry-After", "1"}}};
    }
    return {s, store::to_string(e.reason()), e.what()};
  } catch (const std::bad_alloc&) {
    return {http::status::internal_server_error, "internal", "out of memory"};
  } catch (const std::exception& e) {
    return {http::status::internal_server_error, "internal", e.what()};
  } catch (...) {
    return {http::status::internal_server_error, "internal", "unknown failure"};
  }
}

response error_response(const request& req, http::status status, std::string_view code, std::string_view message) {
  response r{status, req.version()};
  r.set(http::field::server, "xgated");
  r.keep_alive(req.keep_alive());
  r.set(http::field::content_type, "text/plain; charset=utf-8");
  r.set("X-Xgate-Error", std::string(code));
  std::string line(message);
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  r.body() = line + "\n";
  return r;
}

response error_answer(const request& req) {
  http_error e = current_error();
  response r = error_response(req, e.status, e.code, e.message);
  for (auto& [k, v] : e.headers) r.set(k, v);
  return r;
}

void bounded_body::check(std::size_t more) {
  if (more > limit_ || out_.size() > limit_ - more)
    throw http_error{http::status::insufficient_storage, "too_large",
                     std::string(what_) + " larger than the server's limit of " + std::to_string(limit_) +
                         " bytes"};
}

void bounded_body::append(std::string_view s) {
  check(s.size());
  out_ += s;
}

void bounded_body::append_escaped(std::string_view s) {
  // In slices, so that one huge value is refused before it is escaped whole.
  constexpr std::size_t slice = 64 * 1024;
  std::string piece;
  while (!s.empty()) {
    piece.clear();
    escape_into(piece, s.substr(0, slice));
    append(piece);
    s.remove_prefix(std::min(slice, s.size()));
  }
}

}  // namespace xgate::server::detail
