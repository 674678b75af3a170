// Text helpers of the server: escaping, percent-coding, query strings, times.
#pragma once

#include <xgate/base/time.hpp>  // format_utc: every time the API shows
#include <xgate/base/url.hpp>   // encode_url_path: names in links

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xgate::server::detail {

// For XML attribute values and text, and HTML: & < > " ' escaped; tab, CR and LF as character
// references (attribute normalization would fold them); other bytes XML 1.0 cannot carry
// (C0 controls) become U+FFFD so the output stays well-formed.
std::string escape(std::string_view s);
void escape_into(std::string& out, std::string_view s);

// RFC 3986 percent-decoding; plus_is_space for HTML form bodies only (in URLs '+' is a plus).
// std::nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);

// "a=1&b&c=x" -> {{"a","1"},{"b",""},{"c","x"}}, keys and values percent-decoded.
// std::nullopt when malformed.
using query_params = std::vector<std::pair<std::string, std::string>>;
std::optional<query_params> parse_query(std::string_view q, bool plus_is_space = false);

// Unsigned decimal without sign or spaces, std::nullopt otherwise (or on overflow).
std::optional<std::uint64_t> parse_uint(std::string_view s);


// For a header value: line breaks and other controls become '?' (no header injection).
std::string header_safe(std::string_view s);

// Replaces bytes that would break a log line (controls, spaces, non-ASCII) with %XX.
std::string log_safe(std::string_view s);

// A request target as the access log may show it: percent-escapes of unreserved characters
// decoded (so that an escape cannot hide a token), the value of every query parameter whose
// name holds "token" and every token-shaped run (see util.cpp) replaced by REDACTED, then
// log_safe. Whatever route, path or query carries a token, it does not reach the log.
std::string redact_target(std::string_view target);

}  // namespace xgate::server::detail
