// A consumer of the xgate package: its own type, written as XML, kept in a store, read back.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include <xgate/store/store.hpp>
#include <xgate/version.hpp>
#include <xgate/xmlcodec.hpp>

namespace inventory {
struct Item {
  std::string sku;
  int count = 0;
  std::vector<std::string> tags;
  friend bool operator==(const Item&, const Item&) = default;
};
XGATE_TYPE(Item, "inventory.Item", 1, (), (sku, count, tags))
}  // namespace inventory

int main() {
  const inventory::Item item{"A-7", 3, {"red", "large"}};
  const std::string xml = xgate::to_xml(item, {.rights = xgate::rights::owned_by("alice")});

  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("xgate-consumer-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  bool same = false;
  {
    xgate::store::store documents(dir);
    documents.write("items/A-7", xml, "alice");
    same = xgate::from_xml<inventory::Item>(documents.read("items/A-7", "alice").xml, {.principal = "alice"}) == item;
  }
  std::filesystem::remove_all(dir);
  std::printf("xgate %s: %s\n", xgate::version, same ? "the item came back whole" : "the item came back changed");
  return same ? 0 : 1;
}
