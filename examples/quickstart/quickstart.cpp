// The README's example: describe your types once, write them as XML, read them back.
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <xgate/xmlcodec.hpp>

namespace shop {

enum class Status { open, paid, shipped };
XGATE_ENUM(Status, open, paid, shipped)

struct Customer {
  std::string name;
};
XGATE_TYPE(Customer, "shop.Customer", 1, (), (name))

struct Line {
  std::string sku;
  int qty = 0;
  double price = 0;
};
XGATE_REFLECT(Line, sku, qty, price)  // name "Line", version 1

struct Order {
  long number = 0;
  Status status = Status::open;
  std::shared_ptr<Customer> customer;  // shared objects are written once, by reference
  std::vector<Line> lines;
  std::optional<std::string> note;
};
XGATE_TYPE(Order, "shop.Order", 2, (), (number, status, customer, lines, note))

}  // namespace shop

int main() {
  shop::Order order{42, shop::Status::paid, std::make_shared<shop::Customer>(shop::Customer{"Ada & Co"}),
                    {{"A-7", 3, 9.99}, {"B-1", 1, 0.1 + 0.2}}, std::nullopt};

  // Alice owns it; anyone may read it; only she may change, delete or copy it.
  std::string xml = xgate::to_xml(order, {.rights = xgate::rights::owned_by("alice").readers({"*"})});
  std::cout << xml;

  auto back = xgate::from_xml<shop::Order>(xml, {.principal = "bob"});  // read: allowed
  std::cout << "bob read order " << back.number << " for " << back.customer->name << "\n";
  try {
    (void)xgate::from_xml<shop::Order>(xml, {.principal = "bob", .mode = xgate::access_mode::write});
  } catch (const xgate::access_denied& e) {
    std::cout << e.what() << "\n";
  }
  return back.lines[1].price == 0.1 + 0.2 ? 0 : 1;  // doubles come back bit for bit
}
