#include <xgate/base/url.hpp>

#include <charconv>

namespace xgate {

std::string url::authority() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string url::origin() const { return scheme + "://" + authority(); }

namespace {

std::string expected_form(std::initializer_list<url_scheme> schemes) {
  std::string out = "expected ";
  bool first = true;
  for (const url_scheme& s : schemes) {
    if (!first) out += " or ";
    first = false;
    out += std::string(s.name) + (s.default_port ? "://HOST[:PORT]" : "://HOST:PORT");
  }
  return out;
}

url_parse_result refuse(std::string problem) { return {std::nullopt, std::move(problem)}; }

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

std::string percent_encode(std::string_view text, bool keep_slash) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (unreserved(c) || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

url_parse_result parse_url(std::string_view text, std::initializer_list<url_scheme> schemes, url_path path) {
  const url_scheme* scheme = nullptr;
  std::string_view rest;
  for (const url_scheme& s : schemes) {
    std::string_view t = text;
    if (t.starts_with(s.name) && t.substr(s.name.size()).starts_with("://")) {
      scheme = &s;
      rest = t.substr(s.name.size() + 3);
      break;
    }
  }
  if (!scheme) return refuse(expected_form(schemes));
  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  url u;
  u.scheme = std::string(scheme->name);
  if (slash != std::string_view::npos) {
    std::string_view p = rest.substr(slash);
    if (path == url_path::refused && p != "/") return refuse("a path is not allowed here");
    if (path == url_path::allowed) u.path = std::string(p);
  }
  if (authority.find('@') != std::string_view::npos) return refuse("user info is not allowed");
  if (authority.find_first_of(" ?#") != std::string_view::npos) return refuse("bad address");
  std::string_view port;
  bool has_port = false;
  if (authority.starts_with("[")) {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return refuse("unclosed [");
    u.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (authority.starts_with(":")) {
      port = authority.substr(1);
      has_port = true;
    } else if (!authority.empty()) {
      return refuse("bad address");
    }
  } else {
    std::size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
    if (u.host.find(':') != std::string::npos) return refuse("an IPv6 address needs brackets: [ADDRESS]:PORT");
  }
  if (u.host.empty()) return refuse("no host");
  if (has_port) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (port.empty() || port.front() == '+' || ec != std::errc() || p != port.data() + port.size() || v == 0 || v > 65535)
      return refuse("bad port");
    u.port = static_cast<std::uint16_t>(v);
  } else if (scheme->default_port) {
    u.port = scheme->default_port;
  } else {
    return refuse(expected_form(schemes));
  }
  return {std::move(u), {}};
}

std::string encode_url_path(std::string_view name) { return percent_encode(name, true); }
std::string encode_url_query(std::string_view value) { return percent_encode(value, false); }

}  // namespace xgate
