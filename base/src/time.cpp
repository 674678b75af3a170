#include <xgate/base/time.hpp>

#include <charconv>
#include <cstdint>
#include <cstdio>

namespace xgate {

namespace {
template <class Int>
bool parse_digits(std::string_view s, Int& out) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}
}  // namespace

utc_fields to_utc(std::chrono::system_clock::time_point t) noexcept {
  using namespace std::chrono;
  auto us = floor<microseconds>(t);
  auto day = floor<days>(us);
  year_month_day ymd{day};
  hh_mm_ss hms{us - day};
  return {static_cast<int>(ymd.year()),          static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(ymd.day()),      static_cast<unsigned>(hms.hours().count()),
          static_cast<unsigned>(hms.minutes().count()), static_cast<unsigned>(hms.seconds().count()),
          static_cast<unsigned>(hms.subseconds().count())};
}

std::string format_utc(std::chrono::system_clock::time_point t, unsigned fraction_digits) {
  utc_fields f = to_utc(t);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02u:%02u:%02u", f.year, f.month, f.day, f.hour, f.minute,
                        f.second);
  if (fraction_digits >= 6) {
    n += std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), ".%06u", f.microsecond);
  } else if (fraction_digits > 0) {
    n += std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), ".%03u", f.microsecond / 1000);
  }
  return std::string(buf, static_cast<std::size_t>(n)) + 'Z';
}

std::optional<std::chrono::system_clock::time_point> parse_utc(std::string_view s) {
  using namespace std::chrono;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s.back() != 'Z')
    return std::nullopt;
  int y = 0;
  unsigned mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!parse_digits(s.substr(0, 4), y) || !parse_digits(s.substr(5, 2), mo) || !parse_digits(s.substr(8, 2), d) ||
      !parse_digits(s.substr(11, 2), h) || !parse_digits(s.substr(14, 2), mi) || !parse_digits(s.substr(17, 2), se))
    return std::nullopt;
  year_month_day ymd{year{y}, month{mo}, day{d}};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 60) return std::nullopt;
  nanoseconds frac{0};
  std::string_view rest = s.substr(19, s.size() - 20);
  if (!rest.empty()) {
    std::int64_t n = 0;
    if (rest.front() != '.' || rest.size() < 2 || rest.size() > 10 || !parse_digits(rest.substr(1), n))
      return std::nullopt;
    for (std::size_t i = rest.size() - 1; i < 9; ++i) n *= 10;
    frac = nanoseconds{n};
  }
  auto t = sys_days{ymd} + hours{h} + minutes{mi} + seconds{se} + frac;
  return time_point_cast<system_clock::duration>(t);
}

}  // namespace xgate
