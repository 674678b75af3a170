#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <xgate/reflect/reflect.hpp>

namespace shop {
struct Base {
  int id = 0;
};
XGATE_TYPE(Base, "shop.Base", 1, (), (id))

struct Order : Base {
  int number = 0;
  std::string name;
};
XGATE_TYPE(Order, "shop.Order", 3, (Base), (number, name))

class Secret {
  XGATE_FRIEND(Secret);
  int hidden = 7;

 public:
  int visible = 8;
  int get_hidden() const { return hidden; }
};
XGATE_REFLECT(Secret, hidden, visible)

struct Empty {};
XGATE_REFLECT(Empty)

enum class Color { red, green, blue };
XGATE_ENUM(Color, red, green, blue)

struct Unreflected : Order {};
}  // namespace shop

TEST(Reflect, NamesVersionsAndFields) {
  static_assert(xgate::reflected<shop::Order>);
  static_assert(xgate::type_name_v<shop::Order> == "shop.Order");
  static_assert(xgate::type_version_v<shop::Order> == 3);
  static_assert(xgate::type_name_v<shop::Secret> == "Secret");
  static_assert(xgate::type_version_v<shop::Secret> == 1);
  static_assert(xgate::field_count_v<shop::Order> == 3);
  static_assert(xgate::field_count_v<shop::Empty> == 0);
  std::vector<std::string> names;
  xgate::for_each_field<shop::Order>([&](auto f) { names.emplace_back(f.name); });
  EXPECT_EQ(names, (std::vector<std::string>{"id", "number", "name"}));
}

TEST(Reflect, DerivedTypeWithoutItsOwnMacroIsNotReflected) {
  // ADL would find Order's description through the base class; it must not count.
  static_assert(!xgate::reflected<shop::Unreflected>);
  static_assert(!xgate::reflected<int>);
}

TEST(Reflect, PrivateFieldsThroughFriend) {
  shop::Secret s;
  int sum = 0;
  xgate::for_each_field<shop::Secret>([&](auto f) { sum += s.*(f.pointer); });
  EXPECT_EQ(sum, 15);
}

TEST(Reflect, EnumNames) {
  static_assert(xgate::described_enum<shop::Color>);
  EXPECT_EQ(xgate::enum_to_name(shop::Color::blue), "blue");
  EXPECT_EQ(xgate::enum_to_name(static_cast<shop::Color>(42)), "");
  shop::Color c{};
  EXPECT_TRUE(xgate::enum_from_name("green", c));
  EXPECT_EQ(c, shop::Color::green);
  EXPECT_FALSE(xgate::enum_from_name("purple", c));
}

TEST(Reflect, TypeNamesMustBeXmlNames) {
  static_assert(xgate::detail::is_valid_type_name("example.Drawing"));
  static_assert(!xgate::detail::is_valid_type_name("xg:doc"));
  static_assert(!xgate::detail::is_valid_type_name("1abc"));
  static_assert(!xgate::detail::is_valid_type_name("xmlThing"));
  static_assert(!xgate::detail::is_valid_type_name(""));
}
