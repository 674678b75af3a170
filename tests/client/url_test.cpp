// The client's URL and time helpers.
#include <gtest/gtest.h>

#include "url.hpp"

namespace xgate::client::detail {
namespace {

TEST(ClientUrl, ParsesHttpHostPort) {
  auto e = parse_http_url("http://127.0.0.1:8080");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, "8080");
  EXPECT_EQ(e->base, "http://127.0.0.1:8080");
  EXPECT_EQ(parse_http_url("http://example.org/")->base, "http://example.org:80");
  EXPECT_EQ(parse_http_url("http://[::1]:9")->host, "::1");
  EXPECT_EQ(parse_http_url("http://[::1]:9")->base, "http://[::1]:9");
  for (const char* bad : {"https://a:1", "a:1", "http://", "http://a:0", "http://a:65536", "http://a:x", "http://a:1/path",
                          "http://u@a:1", "http://a:", "http://::1:80"})
    EXPECT_FALSE(parse_http_url(bad)) << bad;
}

TEST(ClientUrl, PercentEncodesNamesAndQueries) {
  EXPECT_EQ(encode_path("results/job-17/final"), "results/job-17/final");
  EXPECT_EQ(encode_path("a b/%?#&+\xc3\xa9"), "a%20b/%25%3F%23%26%2B%C3%A9");
  EXPECT_EQ(encode_query("//qty[. > 2]/a"), "%2F%2Fqty%5B.%20%3E%202%5D%2Fa");
  EXPECT_EQ(encode_query("read,write"), "read%2Cwrite");
}

TEST(ClientUrl, IsoTimesRoundTripAtMilliseconds) {
  using namespace std::chrono;
  auto t = sys_days{2026y / November / 22} + 1h + 40min + 6s + 123ms;
  EXPECT_EQ(format_iso(t), "2026-11-22T01:40:06.123Z");
  EXPECT_EQ(parse_iso("2026-11-22T01:40:06.123Z"), t);
  EXPECT_EQ(parse_iso("2026-11-22T01:40:06Z"), t - 123ms);
  EXPECT_EQ(parse_iso("2026-11-22T01:40:06.123456789Z"), t + 456789ns);
  EXPECT_EQ(format_iso(sys_days{1970y / 1 / 1}), "1970-01-01T00:00:00.000Z");
  for (const char* bad : {"", "2026-11-22", "2026-11-22T01:40:06.123", "2026-13-22T01:40:06Z", "2026-11-22T01:40:06.Z",
                          "2026-11-22 01:40:06Z"})
    EXPECT_FALSE(parse_iso(bad)) << bad;
}

}  // namespace
}  // namespace xgate::client::detail
