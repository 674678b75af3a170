// Types written for Boost.Serialization (serialize with name-value pairs) work unchanged.
#include <gtest/gtest.h>

#include <boost/serialization/base_object.hpp>

#include "test_types.hpp"

namespace legacy {

struct Money {
  long cents = 0;
  std::string currency;
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar & BOOST_SERIALIZATION_NVP(cents) & BOOST_SERIALIZATION_NVP(currency);
  }
  friend bool operator==(const Money&, const Money&) = default;
};

struct Invoice {
  int number = 0;
  std::vector<Money> amounts;
  std::optional<std::string> memo;
  unsigned loaded_version = 99;
  template <class Archive>
  void serialize(Archive& ar, unsigned version) {
    ar & BOOST_SERIALIZATION_NVP(number);
    ar & BOOST_SERIALIZATION_NVP(amounts);
    ar & BOOST_SERIALIZATION_NVP(memo);
    loaded_version = version;
  }
};

// Split save/load, as Boost users write it.
struct Celsius {
  double value = 0;
  template <class Archive>
  void save(Archive& ar, unsigned) const {
    double kelvin = value + 273.15;
    ar << BOOST_SERIALIZATION_NVP(kelvin);
  }
  template <class Archive>
  void load(Archive& ar, unsigned) {
    double kelvin = 0;
    ar >> BOOST_SERIALIZATION_NVP(kelvin);
    value = kelvin - 273.15;
  }
  BOOST_SERIALIZATION_SPLIT_MEMBER()
};

// Non-intrusive: a free serialize in the type's namespace.
struct Rate {
  double percent = 0;
  friend bool operator==(const Rate&, const Rate&) = default;
};
template <class Archive>
void serialize(Archive& ar, Rate& r, unsigned) {
  ar & boost::serialization::make_nvp("percent", r.percent);
}

// Non-intrusive in namespace boost::serialization: needs the opt-in trait.
struct Flag {
  bool on = false;
  friend bool operator==(const Flag&, const Flag&) = default;
};

// A described type holding a legacy one.
struct Ledger {
  std::string name;
  Invoice first;
  Celsius temperature;
  Rate rate;
  Flag flag;
};
XGATE_TYPE(Ledger, "legacy.Ledger", 1, (), (name, first, temperature, rate, flag))

}  // namespace legacy

namespace boost::serialization {
template <class Archive>
void serialize(Archive& ar, legacy::Flag& f, unsigned) {
  ar & make_nvp("on", f.on);
}
}  // namespace boost::serialization
template <>
struct xgate::use_boost_serialization<legacy::Flag> : std::true_type {};

BOOST_CLASS_VERSION(legacy::Invoice, 3)

TEST(BoostCompat, NvpSerializeIsUsedUnchanged) {
  legacy::Ledger l;
  l.name = "q3";
  l.first.number = 7;
  l.first.amounts = {{100, "EUR"}, {250, "USD"}};
  l.first.memo = "net 30";
  l.temperature.value = 21.5;
  l.rate.percent = 4.25;
  l.flag.on = true;
  std::string xml = xgate::to_xml(l);
  EXPECT_NE(xml.find("<first xg:v=\"3\">"), std::string::npos) << xml;
  EXPECT_NE(xml.find("<cents>100</cents>"), std::string::npos);
  EXPECT_NE(xml.find("<kelvin>"), std::string::npos);
  auto back = xgate::from_xml<legacy::Ledger>(xml);
  EXPECT_EQ(back.first.number, 7);
  EXPECT_EQ(back.first.amounts, l.first.amounts);
  EXPECT_EQ(back.first.memo, "net 30");
  EXPECT_EQ(back.first.loaded_version, 3u);
  EXPECT_NEAR(back.temperature.value, 21.5, 1e-9);
  EXPECT_EQ(back.rate, l.rate);
  EXPECT_EQ(back.flag, l.flag);
  EXPECT_NE(xml.find("<rate>\n      <percent>4.25</percent>"), std::string::npos) << xml;
  EXPECT_EQ(xgate::to_xml(back), xml);
}

TEST(BoostCompat, LegacyTypeAsRootAndErrors) {
  legacy::Money m{5, "GBP"};
  std::string xml = xgate::to_xml(m);
  EXPECT_NE(xml.find("<xg:value>"), std::string::npos);
  EXPECT_EQ(xgate::from_xml<legacy::Money>(xml), m);
  std::string missing = xml;
  missing.erase(missing.find("    <currency>"), std::string("    <currency>GBP</currency>\n").size());
  try {
    (void)xgate::from_xml<legacy::Money>(missing, {.document_name = "m.xml"});
    FAIL();
  } catch (const xgate::decode_error& e) {
    EXPECT_EQ(e.code(), xgate::errc::missing_field);
    EXPECT_STREQ(e.what(), "m.xml:3: at /xg:doc/xg:value: expected <currency>");
  }
}
