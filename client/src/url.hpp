// URL and time helpers of the HTTP client (internal).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace xgate::client::detail {

struct endpoint {
  std::string host;  // as written, without brackets for IPv6 literals
  std::string port;  // "80" when the URL gives none
  std::string base;  // "http://host:port", normalized (no trailing '/')
};

// "http://host[:port][/]"; std::nullopt for anything else (https, paths, userinfo).
std::optional<endpoint> parse_http_url(std::string_view url);

// A document name or prefix as a URL path: every byte but unreserved ones and '/' as %XX.
std::string encode_path(std::string_view name);
// A query parameter value: every byte but unreserved ones as %XX.
std::string encode_query(std::string_view value);

// "2026-11-22T01:40:06.123Z" <-> time point (UTC, milliseconds).
std::string format_iso(std::chrono::system_clock::time_point t);
std::optional<std::chrono::system_clock::time_point> parse_iso(std::string_view text);

}  // namespace xgate::client::detail
