// UTC times as text (base/time.hpp).
#include <gtest/gtest.h>

#include <xgate/base/time.hpp>

namespace xgate {
namespace {

using namespace std::chrono;

TEST(UtcTime, RoundTripsAtMilliseconds) {
  auto t = sys_days{2026y / November / 22} + 1h + 40min + 6s + 123ms;
  EXPECT_EQ(format_utc(t), "2026-11-22T01:40:06.123Z");
  EXPECT_EQ(parse_utc("2026-11-22T01:40:06.123Z"), t);
  EXPECT_EQ(parse_utc("2026-11-22T01:40:06Z"), t - 123ms);
  EXPECT_EQ(parse_utc("2026-11-22T01:40:06.123456789Z"), t + 456789ns);
  EXPECT_EQ(format_utc(sys_days{1970y / 1 / 1}), "1970-01-01T00:00:00.000Z");
}

TEST(UtcTime, FormatsWithTheFractionAskedFor) {
  auto t = sys_days{2026y / November / 22} + 1h + 40min + 6s + 123456us;
  EXPECT_EQ(format_utc(t, 0), "2026-11-22T01:40:06Z");
  EXPECT_EQ(format_utc(t, 3), "2026-11-22T01:40:06.123Z");
  EXPECT_EQ(format_utc(t, 6), "2026-11-22T01:40:06.123456Z");
  utc_fields f = to_utc(t);
  EXPECT_EQ(f.year, 2026);
  EXPECT_EQ(f.month, 11u);
  EXPECT_EQ(f.day, 22u);
  EXPECT_EQ(f.hour, 1u);
  EXPECT_EQ(f.minute, 40u);
  EXPECT_EQ(f.second, 6u);
  EXPECT_EQ(f.microsecond, 123456u);
}

TEST(UtcTime, RefusesOtherLayouts) {
  for (const char* bad : {"", "2026-11-22", "2026-11-22T01:40:06.123", "2026-13-22T01:40:06Z", "2026-11-22T01:40:06.Z",
                          "2026-11-22 01:40:06Z", "2026-02-30T01:40:06Z", "2026-11-22T01:40:06+01:00", "+026-11-22T01:40:06Z"})
    EXPECT_FALSE(parse_utc(bad)) << bad;
}

}  // namespace
}  // namespace xgate
