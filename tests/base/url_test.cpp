// One URL parser for every part of xgate (base/url.hpp).
#include <gtest/gtest.h>

#include <xgate/base/url.hpp>

namespace xgate {
namespace {

url_parse_result http(std::string_view text) { return parse_url(text, {{"http", 80}}); }

TEST(Url, ParsesHttpHostPort) {
  auto u = http("http://127.0.0.1:8080");
  ASSERT_TRUE(u) << u.problem;
  EXPECT_EQ(u.value->scheme, "http");
  EXPECT_EQ(u.value->host, "127.0.0.1");
  EXPECT_EQ(u.value->port, 8080);
  EXPECT_EQ(u.value->origin(), "http://127.0.0.1:8080");
  EXPECT_EQ(http("http://example.org/").value->origin(), "http://example.org:80");
  EXPECT_EQ(http("http://[::1]:9").value->host, "::1");
  EXPECT_EQ(http("http://[::1]:9").value->origin(), "http://[::1]:9");
  EXPECT_EQ(http("http://[::1]:9").value->authority(), "[::1]:9");
}

TEST(Url, RefusesWhatIsNotAnAddressSayingWhy) {
  struct bad_case {
    const char* text;
    const char* problem;
  };
  for (auto [text, problem] : {bad_case{"https://a:1", "expected http://HOST[:PORT]"}, bad_case{"a:1", "expected http://HOST[:PORT]"},
                               bad_case{"http://", "no host"}, bad_case{"http://a:0", "bad port"},
                               bad_case{"http://a:65536", "bad port"}, bad_case{"http://a:x", "bad port"},
                               bad_case{"http://a:+1", "bad port"}, bad_case{"http://a:1/path", "a path is not allowed here"},
                               bad_case{"http://u@a:1", "user info is not allowed"}, bad_case{"http://a:", "bad port"},
                               bad_case{"http://::1:80", "an IPv6 address needs brackets: [ADDRESS]:PORT"},
                               bad_case{"http://[::1", "unclosed ["}, bad_case{"http://[::1]x", "bad address"},
                               bad_case{"http://a b:1", "bad address"}}) {
    auto u = http(text);
    EXPECT_FALSE(u) << text;
    EXPECT_EQ(u.problem, problem) << text;
  }
}

TEST(Url, KeepsAPathWhereOneIsAllowed) {
  auto u = parse_url("http://h:81/hub/x?y=1", {{"http", 80}}, url_path::allowed);
  ASSERT_TRUE(u) << u.problem;
  EXPECT_EQ(u.value->path, "/hub/x?y=1");
  EXPECT_EQ(parse_url("http://h", {{"http", 80}}, url_path::allowed).value->path, "");
}

TEST(Url, SchemesWithoutADefaultPortNeedOne) {
  EXPECT_EQ(parse_url("tcp://h:7", {{"tcp", 0}}).value->port, 7);
  auto u = parse_url("tcp://h", {{"tcp", 0}, {"tls", 0}});
  EXPECT_FALSE(u);
  EXPECT_EQ(u.problem, "expected tcp://HOST:PORT or tls://HOST:PORT");
  EXPECT_EQ(parse_url("tls://h:9", {{"tcp", 0}, {"tls", 0}}).value->scheme, "tls");
}

TEST(Url, PercentEncodesNamesAndQueries) {
  EXPECT_EQ(encode_url_path("results/job-17/final"), "results/job-17/final");
  EXPECT_EQ(encode_url_path("a b/%?#&+\xc3\xa9"), "a%20b/%25%3F%23%26%2B%C3%A9");
  EXPECT_EQ(encode_url_query("//qty[. > 2]/a"), "%2F%2Fqty%5B.%20%3E%202%5D%2Fa");
  EXPECT_EQ(encode_url_query("read,write"), "read%2Cwrite");
}

}  // namespace
}  // namespace xgate
