#include "url.hpp"

#include <charconv>
#include <cstdint>
#include <cstdio>

namespace xgate::client::detail {

namespace {

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

std::string encode(std::string_view text, bool keep_slash) {
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

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

template <class Int>
bool parse_int(std::string_view s, Int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::optional<endpoint> parse_http_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (!url.starts_with(scheme)) return std::nullopt;
  url.remove_prefix(scheme.size());
  if (url.ends_with('/')) url.remove_suffix(1);
  if (url.empty() || url.find_first_of("/?#@ ") != std::string_view::npos) return std::nullopt;
  endpoint e;
  std::string_view port;
  if (url.front() == '[') {  // [::1]:8080
    auto close = url.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    e.host = std::string(url.substr(1, close - 1));
    std::string_view rest = url.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else {
    auto colon = url.rfind(':');
    e.host = std::string(url.substr(0, colon));
    if (colon != std::string_view::npos) port = url.substr(colon + 1);
    if (e.host.find(':') != std::string::npos) return std::nullopt;
  }
  if (e.host.empty()) return std::nullopt;
  if (port.empty() && url.find(':') == std::string_view::npos) port = "80";
  unsigned number = 0;
  if (!all_digits(port) || !parse_int(port, number) || number == 0 || number > 65535) return std::nullopt;
  e.port = std::to_string(number);
  bool v6 = e.host.find(':') != std::string::npos;
  e.base = "http://" + (v6 ? "[" + e.host + "]" : e.host) + ":" + e.port;
  return e;
}

std::string encode_path(std::string_view name) { return encode(name, true); }
std::string encode_query(std::string_view value) { return encode(value, false); }

std::string format_iso(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  auto ms = floor<milliseconds>(t);
  auto day = floor<days>(ms);
  year_month_day ymd{day};
  hh_mm_ss hms{ms - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                static_cast<int>(hms.subseconds().count()));
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_iso(std::string_view s) {
  using namespace std::chrono;
  // YYYY-MM-DDTHH:MM:SS[.fraction]Z
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s.back() != 'Z')
    return std::nullopt;
  int y = 0;
  unsigned mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!parse_int(s.substr(0, 4), y) || !parse_int(s.substr(5, 2), mo) || !parse_int(s.substr(8, 2), d) ||
      !parse_int(s.substr(11, 2), h) || !parse_int(s.substr(14, 2), mi) || !parse_int(s.substr(17, 2), se))
    return std::nullopt;
  year_month_day ymd{year{y}, month{mo}, day{d}};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return std::nullopt;
  nanoseconds frac{0};
  std::string_view rest = s.substr(19, s.size() - 20);
  if (!rest.empty()) {
    if (rest.front() != '.' || rest.size() < 2 || rest.size() > 10 || !all_digits(rest.substr(1))) return std::nullopt;
    std::int64_t n = 0;
    parse_int(rest.substr(1), n);
    for (std::size_t i = rest.size() - 1; i < 9; ++i) n *= 10;
    frac = nanoseconds{n};
  }
  auto t = sys_days{ymd} + hours{h} + minutes{mi} + seconds{se} + frac;
  return time_point_cast<system_clock::duration>(t);
}

}  // namespace xgate::client::detail
