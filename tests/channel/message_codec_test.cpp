// Typed message bodies (message_codec): make encodes and checks; open decodes for the receiver's principal
// and refuses a body of another type, or an invalid one, naming the message.
#include <xgate/xmlcodec.hpp>

#include "test_util.hpp"

namespace gate_test {
struct Order {
  long number = 0;
  std::vector<std::string> skus;
  friend bool operator==(const Order&, const Order&) = default;
};
XGATE_TYPE(Order, "shop.Order", 1, (), (number, skus))

struct Invoice {
  long number = 0;
  double total = 0;
};
XGATE_TYPE(Invoice, "shop.Invoice", 1, (), (number, total))
}  // namespace gate_test

namespace xgate::channel {
namespace {
using gate_test::Invoice;
using gate_test::Order;
using testing::catch_channel_error;

TEST(MessageCodec, MakeStampSendOpen) {
  message_codec<Order> out({.rights = xgate::rights::owned_by("alice").readers({"bob"})});
  message_codec<Order> in({.principal = "bob"});
  Order o{42, {"A-7", "B-1"}};
  envelope e = out.make("node/a", "node/b", o, "order");
  EXPECT_EQ(e.seq, 0u);  // stamped when sent
  EXPECT_EQ(e.kind, "order");
  EXPECT_EQ(body_type(e.body), "shop.Order");
  pair_stamper("node/a").stamp(e);
  frames::message m = std::get<frames::message>(decode_payload(encode_payload(frames::message{1, e})));
  EXPECT_EQ(in.open(m.env), o);
  EXPECT_EQ(out.make("node/a", "node/b", o).kind, "shop.Order");  // the type name by default
}

TEST(MessageCodec, WrongBodyTypeNamesBothTypesAndTheMessage) {
  message_codec<Invoice> invoices;
  message_codec<Order> orders;
  envelope e = invoices.make("node/a", "node/b", Invoice{7, 9.5}, "order");
  pair_stamper("node/a").stamp(e);
  auto err = catch_channel_error([&] { (void)orders.open(e); });
  EXPECT_EQ(err.code(), channel_errc::wrong_body_type);
  EXPECT_EQ(err.detail(), "message " + e.id + " from \"node/a\": body is a shop.Invoice, expected a shop.Order");
  EXPECT_EQ(err.code(), xgate::condition::invalid_input);  // like a document of the wrong root type

  e.body = "<plain>xml</plain>";
  EXPECT_EQ(catch_channel_error([&] { (void)orders.open(e); }).detail(),
            "message " + e.id + " from \"node/a\": body is not an xgate document, expected a shop.Order");
}

TEST(MessageCodec, InvalidBodyIsBadBody) {
  message_codec<Order> orders;
  envelope e = orders.make("node/a", "node/b", Order{1, {}});
  pair_stamper("node/a").stamp(e);
  std::string good = e.body;
  e.body.replace(e.body.find("<number>1</number>"), 18, "<number>x1</number>");
  auto err = catch_channel_error([&] { (void)orders.open(e); });
  EXPECT_EQ(err.code(), channel_errc::bad_body);
  EXPECT_NE(err.detail().find("body is not a valid shop.Order: message " + e.id), std::string::npos) << err.detail();
  EXPECT_NE(err.detail().find("is not an integer"), std::string::npos) << err.detail();
  e.body = good.substr(0, good.size() / 2);
  EXPECT_EQ(catch_channel_error([&] { (void)orders.open(e); }).code(), channel_errc::bad_body);
}

TEST(MessageCodec, ReceiversPrincipalIsChecked) {
  message_codec<Order> out({.rights = xgate::rights::owned_by("alice")});
  envelope e = out.make("node/a", "node/b", Order{1, {}});
  pair_stamper("node/a").stamp(e);
  EXPECT_THROW((void)message_codec<Order>({.principal = "mallory"}).open(e), xgate::access_denied);
  EXPECT_NO_THROW((void)message_codec<Order>({.principal = "alice"}).open(e));
}

TEST(MessageCodec, MakeChecksAddressingAndSize) {
  message_codec<Order> g({.max_body = 200});
  EXPECT_EQ(catch_channel_error([&] { (void)g.make("node/a", "bad name", Order{}); }).code(), channel_errc::bad_envelope);
  EXPECT_EQ(catch_channel_error([&] { (void)g.make("", "node/b", Order{}); }).code(), channel_errc::bad_envelope);
  EXPECT_EQ(catch_channel_error([&] { (void)g.make("node/a", "node/b", Order{}, "a kind"); }).code(), channel_errc::bad_envelope);
  auto big = catch_channel_error([&] { (void)g.make("node/a", "node/b", Order{1, std::vector<std::string>(50, "sku")}); });
  EXPECT_EQ(big.code(), channel_errc::frame_too_large);
  EXPECT_NE(big.detail().find("a shop.Order body of "), std::string::npos) << big.detail();
}

}  // namespace
}  // namespace xgate::channel
