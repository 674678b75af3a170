// UTC times as text: the one format xgate shows and sends, ISO 8601 with a 'Z'.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace xgate {

// A time point's UTC calendar fields, for layouts of one's own (file names, log keys).
struct utc_fields {
  int year = 1970;
  unsigned month = 1, day = 1, hour = 0, minute = 0, second = 0;
  unsigned microsecond = 0;
};
[[nodiscard]] utc_fields to_utc(std::chrono::system_clock::time_point t) noexcept;

// "2026-11-22T01:40:06.123Z": fraction_digits (0, 3 or 6; others are clamped to 6) after the
// seconds; 0 leaves out the '.'.
[[nodiscard]] std::string format_utc(std::chrono::system_clock::time_point t, unsigned fraction_digits = 3);

// The inverse: "YYYY-MM-DDTHH:MM:SS[.1 to 9 digits]Z"; std::nullopt for anything else
// (another layout, an offset instead of 'Z', a day that does not exist).
[[nodiscard]] std::optional<std::chrono::system_clock::time_point> parse_utc(std::string_view text);

}  // namespace xgate
