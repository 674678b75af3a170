// The generated XSD is valid, and real encoder output validates against it (xmllint).
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "test_types.hpp"

namespace {

struct xmllint_result {
  int status;
  std::string output;
};

xmllint_result xmllint(const std::string& xsd, const std::string& xml) {
  auto dir = std::filesystem::temp_directory_path() / ("xgate-xsd-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "s.xsd") << xsd;
  std::ofstream(dir / "d.xml") << xml;
  std::string cmd = "xmllint --noout --schema " + (dir / "s.xsd").string() + " " + (dir / "d.xml").string() + " 2>&1";
  xmllint_result r{-1, {}};
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    std::array<char, 4096> buf;
    while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) r.output.append(buf.data(), n);
    r.status = ::pclose(p);
  }
  std::filesystem::remove_all(dir);
  return r;
}

template <class T>
void expect_valid(const T& value, const xgate::encode_options& options = {}) {
  std::string xsd = xgate::schema<T>();
  std::string xml = xgate::to_xml(value, options);
  auto r = xmllint(xsd, xml);
  EXPECT_EQ(r.status, 0) << r.output << "\n--- schema:\n" << xsd << "\n--- document:\n" << xml;
}

TEST(Schema, ScalarsContainersAndMisc) {
  t::Ints ints{-1, 2, -3, 4, -5, 6, -7, 8, 'c', true};
  expect_valid(ints);
  t::Floats f{{0.1, -0.0, std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN(),
               std::bit_cast<double>(0x7ff0000000000123ull), 5e-324},
              {1.5f, -std::numeric_limits<float>::infinity()}};
  expect_valid(f);
  expect_valid(t::Text{"mixed \x01 content & <escapes>"});
  t::Containers c;
  c.v = {1, 2};
  c.m = {{"a", 1}};
  c.point_keys = {{{1, 2}, "p"}};
  c.bits = {true};
  c.nested = {{1}, {}};
  expect_valid(c);
  t::Misc m;
  m.o1 = 3;
  m.var = t::Point{1, 2};
  m.bytes = {std::byte{1}};
  m.color = t::Color::green;
  expect_valid(m);
  m.var = std::monostate{};
  expect_valid(m);
}

TEST(Schema, GraphsPolymorphismRightsAndSignature) {
  auto a = std::make_shared<t::Node>(), b = std::make_shared<t::Node>();
  a->out = {b};
  b->back = a;
  b->raw = a.get();
  expect_valid(t::Graph{{a}});
  t::Scene s;
  s.owned.push_back(std::make_unique<t::Circle>());
  s.shared = {std::make_shared<t::Square>()};
  s.focus = s.owned[0].get();
  auto key = xgate::signing_key::generate("k");
  expect_valid(s, {.rights = xgate::rights::owned_by("alice").readers({"*"}), .sign = &key});
  t::Payslip slip{"bob", xgate::restricted<double>(1.5, {.read = xgate::principal_list{"hr"}}), xgate::restricted<std::string>("n")};
  expect_valid(slip);
}

TEST(Schema, InvalidDocumentsAreRejected) {
  // The schema is not vacuous: a wrong value fails validation.
  std::string xsd = xgate::schema<t::Ints>();
  std::string xml = xgate::to_xml(t::Ints{});
  std::string bad = xml;
  bad.replace(bad.find("<i8>0</i8>"), 10, "<i8>300</i8>");
  EXPECT_NE(xmllint(xsd, bad).status, 0);
  bad = xml;
  bad.replace(bad.find("<b>false</b>"), 12, "<b>maybe</b>");
  EXPECT_NE(xmllint(xsd, bad).status, 0);
}

TEST(Schema, ByRegisteredName) {
  std::string xsd = xgate::schema("t.Circle");
  EXPECT_NE(xsd.find("<xs:complexType name=\"t.Circle\">"), std::string::npos);
  EXPECT_THROW((void)xgate::schema("no.Such"), xgate::error);
}

}  // namespace
