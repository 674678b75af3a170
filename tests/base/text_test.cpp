// Text for messages (base/text.hpp).
#include <gtest/gtest.h>

#include <xgate/base/text.hpp>

namespace xgate {
namespace {

TEST(Printable, EscapesWhatCouldForgeAMessageAndClips) {
  EXPECT_EQ(printable("results/job-17"), "results/job-17");
  EXPECT_EQ(printable("a\"b\\c\n\xff"), "a\\x22b\\x5cc\\x0a\\xff");
  EXPECT_EQ(printable(std::string(200, 'x')), std::string(120, 'x') + "...");
}

TEST(OneLine, LineBreaksBecomeSpacesAndTrailingWhitespaceGoes) {
  EXPECT_EQ(one_line("store: put \"a\": refused\nsecond line\r\n"), "store: put \"a\": refused second line");
  EXPECT_EQ(one_line("  kept in front \t \n"), "  kept in front");
  EXPECT_EQ(one_line(""), "");
  EXPECT_EQ(one_line("failed: Connection refused\n\tIs the server running?\n"), "failed: Connection refused Is the server running?");
}

TEST(Hex, IsLowerCaseTwoDigitsAByte) { EXPECT_EQ(to_hex(std::string("\x00\x0f\xa0\xff", 4)), "000fa0ff"); }

}  // namespace
}  // namespace xgate
