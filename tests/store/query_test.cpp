// XPath queries over the documents under a prefix.
#include <gtest/gtest.h>

#include <xgate/store/store.hpp>

#include "store_engines.hpp"

namespace xs = xgate::store;
using xs::testing::StoreConformance;
using xs::testing::xgate_doc;

namespace {
const char* rights = R"(creator="alice" read="*" write="creator" delete="creator" copy="creator")";
}

TEST_P(StoreConformance, QueriesByXPathUnderAPrefix) {
  xs::store s = open();
  s.write("orders/1", xgate_doc(rights, R"(<shop.Order xg:v="2"><number>1</number><status>paid</status></shop.Order>)"), "alice");
  s.write("orders/2", xgate_doc(rights, R"(<shop.Order xg:v="2"><number>2</number><status>open</status></shop.Order>)"), "alice");
  s.write("orders/3", xgate_doc(rights, R"(<shop.Order xg:v="2"><number>3</number><status>paid</status></shop.Order>)"), "alice");
  s.write("ordersX/4", xgate_doc(rights, R"(<shop.Order xg:v="2"><number>4</number><status>paid</status></shop.Order>)"), "alice");

  std::vector<xs::query_match> paid = s.query("orders", "//shop.Order[status='paid']/number", "bob");
  ASSERT_EQ(paid.size(), 2u);
  EXPECT_EQ(paid[0].name, "orders/1");
  EXPECT_EQ(paid[0].values, (std::vector<std::string>{"<number>1</number>"}));
  EXPECT_EQ(paid[1].name, "orders/3");
  EXPECT_EQ(paid[1].revision, s.info("orders/3", "bob").revision);

  std::vector<xs::query_match> creators = s.query("orders/2", "/xg:doc/xg:rights/@creator", "bob");
  ASSERT_EQ(creators.size(), 1u);
  EXPECT_EQ(creators[0].values, (std::vector<std::string>{"alice"}));

  std::vector<xs::query_match> text = s.query("orders", "//status/text()", "bob");
  ASSERT_EQ(text.size(), 3u);
  EXPECT_EQ(text[1].values, (std::vector<std::string>{"open"}));

  std::vector<xs::query_match> counts = s.query("orders", "count(//number) + 1", "bob");
  ASSERT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts[0].values, (std::vector<std::string>{"2"}));

  EXPECT_TRUE(s.query("orders", "//nothing", "bob").empty());
}

TEST_P(StoreConformance, BadXPathIsATypedErrorNamingTheExpression) {
  xs::store s = open();
  s.write("orders/1", "<o/>", "alice");
  try {
    (void)s.query("orders", "//shop.Order[", "alice");
    FAIL() << "no error";
  } catch (const xs::store_error& e) {
    EXPECT_EQ(e.code(), xs::store_errc::bad_xpath);
    EXPECT_NE(std::string(e.what()).find("store: query \"orders\": bad XPath \"//shop.Order[\": "), std::string::npos)
        << e.what();
  }
}
