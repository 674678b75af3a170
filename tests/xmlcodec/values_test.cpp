// Every kind of value round-trips exactly, and encoding what was decoded gives the same bytes.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "test_types.hpp"

namespace {

template <class T>
T round_trip(const T& value, std::string* xml_out = nullptr) {
  std::string xml = xgate::to_xml(value);
  if (xml_out) *xml_out = xml;
  T back = xgate::from_xml<T>(xml);
  EXPECT_EQ(xgate::to_xml(back), xml) << "output is not canonical";
  return back;
}

template <class F>
auto bits(F f) {
  if constexpr (sizeof(F) == 8) return std::bit_cast<std::uint64_t>(f);
  else return std::bit_cast<std::uint32_t>(f);
}

TEST(Values, IntegersAtTheirExtremes) {
  t::Ints lo{std::numeric_limits<std::int8_t>::min(), 0, std::numeric_limits<std::int16_t>::min(), 0,
             std::numeric_limits<std::int32_t>::min(), 0, std::numeric_limits<std::int64_t>::min(), 0,
             std::numeric_limits<char>::min(), false};
  t::Ints hi{std::numeric_limits<std::int8_t>::max(), std::numeric_limits<std::uint8_t>::max(),
             std::numeric_limits<std::int16_t>::max(), std::numeric_limits<std::uint16_t>::max(),
             std::numeric_limits<std::int32_t>::max(), std::numeric_limits<std::uint32_t>::max(),
             std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::uint64_t>::max(),
             std::numeric_limits<char>::max(), true};
  EXPECT_EQ(round_trip(lo), lo);
  std::string xml;
  EXPECT_EQ(round_trip(hi, &xml), hi);
  EXPECT_NE(xml.find("<u64>18446744073709551615</u64>"), std::string::npos);
  EXPECT_NE(xml.find("<b>true</b>"), std::string::npos);
}

TEST(Values, FloatingPointIsBitExact) {
  t::Floats f;
  const double dnan_payload = std::bit_cast<double>(0x7ff0000000000123ull);
  const double dnan_negative = std::bit_cast<double>(0xfff8000000000000ull);
  f.d = {0.0, -0.0, 0.1, 0.1 + 0.2, 1.0 / 3, std::numeric_limits<double>::denorm_min(),
         std::numeric_limits<double>::min(), std::numeric_limits<double>::max(), -std::numeric_limits<double>::max(),
         std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
         std::numeric_limits<double>::quiet_NaN(), dnan_payload, dnan_negative, 2.2250738585072009e-308,
         123456789.12345678, 9007199254740993.0};
  f.f = {0.0f, -0.0f, 0.1f, std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max(),
         std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
         std::bit_cast<float>(0xffc00001u), 16777217.0f};
  std::string xml;
  t::Floats back = round_trip(f, &xml);
  ASSERT_EQ(back.d.size(), f.d.size());
  for (std::size_t i = 0; i < f.d.size(); ++i) EXPECT_EQ(bits(back.d[i]), bits(f.d[i])) << "double #" << i;
  ASSERT_EQ(back.f.size(), f.f.size());
  for (std::size_t i = 0; i < f.f.size(); ++i) EXPECT_EQ(bits(back.f[i]), bits(f.f[i])) << "float #" << i;
  EXPECT_NE(xml.find("<item>-0</item>"), std::string::npos);
  EXPECT_NE(xml.find("<item>INF</item>"), std::string::npos);
  EXPECT_NE(xml.find("<item>NaN</item>"), std::string::npos);
  EXPECT_NE(xml.find("<item>NaN(0x123)</item>"), std::string::npos);
  EXPECT_NE(xml.find("<item>-NaN</item>"), std::string::npos);
  EXPECT_NE(xml.find("<item>5e-324</item>"), std::string::npos);
}

TEST(Values, StringsCarryAnyBytes) {
  std::vector<std::string> cases = {
      "",
      "plain",
      "  leading and trailing  ",
      "   ",
      "\t\n",
      "a\r\nb\rc",
      "<tag attr=\"v\">&amp; ]]> 'q'</tag>",
      "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
      std::string("nul\0inside", 10),
      "\x01\x02\x1f",
      "bad utf8 \xC3\x28 and \xFF\xFE lone",
      "surrogate \xED\xA0\x80 nonchar \xEF\xBF\xBE",
      "overlong \xC0\xAF \xE0\x80\xAF",
      std::string(" \x01 "),
      std::string("\x01 \x02"),
  };
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  cases.push_back(all);
  for (const std::string& s : cases) {
    t::Text in{s};
    std::string xml;
    t::Text out = round_trip(in, &xml);
    EXPECT_EQ(out.s, s) << xml;
  }
}

TEST(Values, ReferencesAnywhereInLongText) {
  // The parser scans the first 64 bytes of a text run inline and the rest with memchr:
  // references and markup must be found on both sides of that line and across it.
  for (std::size_t pad = 55; pad < 70; ++pad) {
    t::Text in{std::string(pad, 'a') + "&<>\r" + std::string(100, 'b') + "&" + "\x01" + " end"};
    EXPECT_EQ(round_trip(in).s, in.s) << pad;
  }
}

TEST(Values, StringEscapesAreReadableXml) {
  std::string xml = xgate::to_xml(t::Text{"a\x01" "b & <c>"});
  EXPECT_NE(xml.find("<s>a<xg:x>01</xg:x>b &amp; &lt;c&gt;</s>"), std::string::npos) << xml;
  xml = xgate::to_xml(t::Text{" \x01 "});
  EXPECT_NE(xml.find("<s>&#32;<xg:x>01</xg:x>&#32;</s>"), std::string::npos) << xml;
}

TEST(Values, Containers) {
  t::Containers c;
  c.v = {1, -2, 3};
  c.a = {7, 8, 9};
  c.dq = {"x", "", "z"};
  c.l = {{1, 2}, {3, 4}};
  c.s = {5, 1, 3};
  c.ms = {2, 2, 1};
  c.m = {{"b", 2}, {"a", 1}};
  c.mm = {{1, "one"}, {1, "uno"}, {2, "two"}};
  c.um = {{"k1", 1}, {"k2", 2}, {"k3", 3}};
  c.us = {10, 20, 30, 40};
  c.ums = {1, 1, 2};
  c.umm = {{1, 2}, {1, 3}};
  c.bits = {true, false, true, true};
  c.nested = {{}, {1}, {2, 3}};
  c.point_keys = {{{1, 2}, "a"}, {{0, 5}, "b"}};
  EXPECT_EQ(round_trip(c), c);
  EXPECT_EQ(round_trip(t::Containers{}), t::Containers{});
}

TEST(Values, UnorderedContainersAreWrittenInKeyOrder) {
  t::Containers a, b;
  for (int i = 0; i < 100; ++i) a.us.insert(i);
  for (int i = 99; i >= 0; --i) b.us.insert(i);
  b.us.rehash(1024);
  EXPECT_EQ(xgate::to_xml(a), xgate::to_xml(b));
}

TEST(Values, OptionalVariantPairTupleChronoBytesEnums) {
  t::Misc m;
  m.o1 = 5;
  m.o3 = "";
  m.var = t::Point{1.5, -2};
  m.pr = {1, "one"};
  m.tup = {2, 0.5, "two"};
  m.ms = std::chrono::milliseconds(-1500);
  m.secs = std::chrono::duration<double>(0.1);
  m.when = std::chrono::system_clock::time_point(std::chrono::system_clock::duration(1763767655123456789LL));
  m.bytes = {std::byte{0}, std::byte{0xff}, std::byte{0x10}};
  m.ubytes = {1, 2, 3, 4, 5};
  m.color = t::Color::blue;
  m.unnamed = static_cast<t::Color>(17);
  std::string xml;
  EXPECT_EQ(round_trip(m, &xml), m);
  EXPECT_NE(xml.find("<o2 xsi:nil=\"true\"/>"), std::string::npos);
  EXPECT_NE(xml.find("<o3/>"), std::string::npos);
  EXPECT_NE(xml.find("<color>blue</color>"), std::string::npos);
  EXPECT_NE(xml.find("<unnamed>17</unnamed>"), std::string::npos);
  EXPECT_NE(xml.find("<bytes>AP8Q</bytes>"), std::string::npos);
  EXPECT_NE(xml.find("<alt2>"), std::string::npos);
  for (auto v : {decltype(m.var){7}, decltype(m.var){std::string("s")}, decltype(m.var){std::monostate{}}}) {
    m.var = v;
    EXPECT_EQ(round_trip(m), m);
  }
}

TEST(Values, BaseClassFieldsComeFirst) {
  t::Derived d;
  d.base_value = 4;
  d.own = "mine";
  std::string xml;
  EXPECT_EQ(round_trip(d, &xml), d);
  EXPECT_LT(xml.find("<base_value>"), xml.find("<own>"));
}

TEST(Values, NonStructRoots) {
  std::vector<int> v{1, 2, 3};
  std::string xml;
  EXPECT_EQ(round_trip(v, &xml), v);
  EXPECT_NE(xml.find("<xg:value>"), std::string::npos);
  std::map<std::string, double> m{{"pi", 3.14159}};
  EXPECT_EQ(round_trip(m), m);
  EXPECT_EQ(round_trip(std::string("just a string")), "just a string");
}

TEST(Values, OutputToStreamAndCompactForm) {
  t::Point p{1, 2};
  std::ostringstream os;
  xgate::to_xml(p, os);
  EXPECT_EQ(os.str(), xgate::to_xml(p));
  std::string compact = xgate::to_xml(p, {.indent = 0, .declaration = false});
  EXPECT_EQ(compact,
            "<xg:doc xmlns:xg=\"urn:xgate:1\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">"
            "<t.Point><x>1</x><y>2</y></t.Point></xg:doc>");
  EXPECT_EQ(xgate::from_xml<t::Point>(compact), p);
}

TEST(Values, LargeOutputThroughSinkInChunks) {
  std::vector<std::string> big(20000, std::string(50, 'x'));
  std::ostringstream os;
  xgate::to_xml(big, os);
  EXPECT_EQ(os.str(), xgate::to_xml(big));
  EXPECT_EQ(xgate::from_xml<std::vector<std::string>>(os.str()), big);
}

TEST(Values, IntoAReusedString) {
  std::string out = "old contents";
  xgate::to_xml(t::Point{1, 2}, out);
  EXPECT_EQ(out, xgate::to_xml(t::Point{1, 2}));
}

TEST(Values, FillAnExistingObject) {
  t::Point p{9, 9};
  xgate::from_xml(xgate::to_xml(t::Point{1, 2}), p);
  EXPECT_EQ(p, (t::Point{1, 2}));
}

}  // namespace
