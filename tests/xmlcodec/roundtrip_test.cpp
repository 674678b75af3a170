#include <gtest/gtest.h>

#include <xgate/xmlcodec.hpp>

namespace shop {
enum class Status { open, paid, shipped };
XGATE_ENUM(Status, open, paid, shipped)

struct Line {
  std::string sku;
  int qty = 0;
  double price = 0;
  friend bool operator==(const Line&, const Line&) = default;
};
XGATE_REFLECT(Line, sku, qty, price)

struct Customer {
  std::string name;
  friend bool operator==(const Customer&, const Customer&) = default;
};
XGATE_TYPE(Customer, "shop.Customer", 1, (), (name))

struct Order {
  std::int64_t number = 0;
  Status status = Status::open;
  std::shared_ptr<Customer> customer;
  std::vector<Line> lines;
  std::optional<std::string> note;
};
XGATE_TYPE(Order, "shop.Order", 2, (), (number, status, customer, lines, note))
}  // namespace shop

TEST(RoundTrip, OrderComesBackEqual) {
  shop::Order o;
  o.number = 42;
  o.status = shop::Status::paid;
  o.customer = std::make_shared<shop::Customer>(shop::Customer{"Ada & Co"});
  o.lines = {{"A-7", 3, 9.99}, {"B<1>", 1, 0.1}};
  std::string xml = xgate::to_xml(o);
  std::cout << xml;
  auto back = xgate::from_xml<shop::Order>(xml);
  EXPECT_EQ(back.number, 42);
  EXPECT_EQ(back.status, shop::Status::paid);
  ASSERT_TRUE(back.customer);
  EXPECT_EQ(back.customer->name, "Ada & Co");
  EXPECT_EQ(back.lines, o.lines);
  EXPECT_FALSE(back.note);
  EXPECT_EQ(xgate::to_xml(back), xml);
}

// A document saved with Windows line ends (CR LF everywhere, also between the declaration
// and the root) reads as the same value; CRs in text are line ends too (XML 1.0, 2.11).
TEST(RoundTrip, CrLfLineEndsDecode) {
  shop::Order o;
  o.number = 7;
  o.customer = std::make_shared<shop::Customer>(shop::Customer{"Crlf Ltd"});
  o.lines = {{"A-1", 2, 1.5}};
  o.note = "two\nlines";
  std::string xml = xgate::to_xml(o), crlf;
  for (char c : xml) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  ASSERT_NE(crlf.find("?>\r\n<"), std::string::npos);
  shop::Order back = xgate::from_xml<shop::Order>(crlf);
  EXPECT_EQ(back.number, 7);
  EXPECT_EQ(back.customer->name, "Crlf Ltd");
  EXPECT_EQ(back.lines, o.lines);
  EXPECT_EQ(back.note, o.note);
  // A reference outside the root is still text where none may be.
  EXPECT_THROW((void)xgate::from_xml<shop::Order>(xml + "&#32;"), xgate::decode_error);
}
