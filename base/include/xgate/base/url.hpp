// URLs of the forms xgate uses: SCHEME://HOST[:PORT][/PATH]. One parser for the HTTP client,
// the hub transports and the servers' own addresses, so that every part of xgate agrees on
// what a URL means.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace xgate {

struct url {
  std::string scheme;       // one of the schemes the caller allowed, as written: "http", "tcp", ...
  std::string host;         // without the brackets of an IPv6 literal
  std::uint16_t port = 0;   // the URL's port, or the scheme's default
  std::string path;         // "" or "/...": everything after the authority (query included)

  [[nodiscard]] std::string authority() const;  // "host:port", "[::1]:port"
  [[nodiscard]] std::string origin() const;     // "scheme://authority"
};

// A scheme a caller accepts, with the port a URL without one gets (0: the port is required).
struct url_scheme {
  std::string_view name;
  std::uint16_t default_port = 0;
};

// What parse_url found: a URL, or why the text is not one. Failure is ordinary here (the text
// comes from a command line or a configuration), so it is a result, not an exception.
struct url_parse_result {
  std::optional<url> value;
  std::string problem;  // when !value: "expected http://HOST[:PORT]", "unclosed [", "no host", "bad port", ...
  explicit operator bool() const noexcept { return value.has_value(); }
};

enum class url_path { refused, allowed };

// Parses text as SCHEME://HOST[:PORT][/PATH] for one of schemes. A path (anything after the
// authority but a lone '/') is refused unless path is allowed. Refused everywhere: user info
// ("user@": credentials never travel in URLs), an empty or out-of-range port (0, 65536), an
// empty host, an unbracketed IPv6 literal, spaces.
[[nodiscard]] url_parse_result parse_url(std::string_view text, std::initializer_list<url_scheme> schemes,
                                         url_path path = url_path::refused);

// Percent-encoding for request targets: a document name or prefix as a URL path (every byte
// but unreserved ones and '/' as %XX), and a query parameter value (every byte but unreserved).
[[nodiscard]] std::string encode_url_path(std::string_view name);
[[nodiscard]] std::string encode_url_query(std::string_view value);

}  // namespace xgate
