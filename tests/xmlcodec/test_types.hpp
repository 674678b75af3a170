// Described types shared by the codec tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include <xgate/xmlcodec.hpp>

namespace t {

enum class Color { red, green, blue };
XGATE_ENUM(Color, red, green, blue)

struct Point {
  double x = 0, y = 0;
  friend bool operator==(const Point&, const Point&) = default;
  friend auto operator<=>(const Point&, const Point&) = default;
};
XGATE_TYPE(Point, "t.Point", 1, (), (x, y))

struct Ints {
  std::int8_t i8 = 0;
  std::uint8_t u8 = 0;
  std::int16_t i16 = 0;
  std::uint16_t u16 = 0;
  std::int32_t i32 = 0;
  std::uint32_t u32 = 0;
  std::int64_t i64 = 0;
  std::uint64_t u64 = 0;
  char c = 0;
  bool b = false;
  friend bool operator==(const Ints&, const Ints&) = default;
};
XGATE_TYPE(Ints, "t.Ints", 1, (), (i8, u8, i16, u16, i32, u32, i64, u64, c, b))

struct Floats {
  std::vector<double> d;
  std::vector<float> f;
};
XGATE_TYPE(Floats, "t.Floats", 1, (), (d, f))

struct Text {
  std::string s;
};
XGATE_TYPE(Text, "t.Text", 1, (), (s))

struct Containers {
  std::vector<int> v;
  std::array<int, 3> a{};
  std::deque<std::string> dq;
  std::list<Point> l;
  std::set<int> s;
  std::multiset<int> ms;
  std::map<std::string, int> m;
  std::multimap<int, std::string> mm;
  std::unordered_map<std::string, int> um;
  std::unordered_set<int> us;
  std::unordered_multiset<int> ums;
  std::unordered_multimap<int, int> umm;
  std::vector<bool> bits;
  std::vector<std::vector<int>> nested;
  std::map<Point, std::string> point_keys;
  friend bool operator==(const Containers&, const Containers&) = default;
};
XGATE_TYPE(Containers, "t.Containers", 1, (), (v, a, dq, l, s, ms, m, mm, um, us, ums, umm, bits, nested, point_keys))

struct Misc {
  std::optional<int> o1;
  std::optional<int> o2;
  std::optional<std::string> o3;
  std::variant<int, std::string, Point, std::monostate> var;
  std::pair<int, std::string> pr;
  std::tuple<int, double, std::string> tup;
  std::chrono::milliseconds ms{0};
  std::chrono::duration<double> secs{0};
  std::chrono::system_clock::time_point when{};
  std::vector<std::byte> bytes;
  std::vector<unsigned char> ubytes;
  Color color = Color::red;
  Color unnamed = Color::red;
  friend bool operator==(const Misc&, const Misc&) = default;
};
XGATE_TYPE(Misc, "t.Misc", 1, (), (o1, o2, o3, var, pr, tup, ms, secs, when, bytes, ubytes, color, unnamed))

struct Base {
  int base_value = 0;
  friend bool operator==(const Base&, const Base&) = default;
};
XGATE_TYPE(Base, "t.Base", 1, (), (base_value))

struct Derived : Base {
  std::string own;
  friend bool operator==(const Derived&, const Derived&) = default;
};
XGATE_TYPE(Derived, "t.Derived", 1, (Base), (own))

// Polymorphic hierarchy.
struct Shape {
  virtual ~Shape() = default;
  virtual double area() const = 0;
  std::string id;
};
XGATE_TYPE(Shape, "t.Shape", 1, (), (id))

struct Circle : Shape {
  double r = 0;
  double area() const override { return 3 * r * r; }
};
XGATE_TYPE(Circle, "t.Circle", 1, (Shape), (r))

struct Square : Shape {
  double side = 0;
  double area() const override { return side * side; }
};
XGATE_TYPE(Square, "t.Square", 1, (Shape), (side))

struct Unregistered : Shape {
  double area() const override { return 0; }
};
XGATE_TYPE(Unregistered, "t.Unregistered", 1, (Shape), ())

struct Scene {
  std::vector<std::unique_ptr<Shape>> owned;
  std::vector<std::shared_ptr<Shape>> shared;
  Shape* focus = nullptr;
};
XGATE_TYPE(Scene, "t.Scene", 1, (), (owned, shared, focus))

// Graph with identity: shared targets, cycles through shared and weak pointers.
struct Node {
  std::string name;
  std::vector<std::shared_ptr<Node>> out;
  std::weak_ptr<Node> back;
  Node* raw = nullptr;
};
XGATE_TYPE(Node, "t.Node", 1, (), (name, out, back, raw))

struct Graph {
  std::vector<std::shared_ptr<Node>> roots;
};
XGATE_TYPE(Graph, "t.Graph", 1, (), (roots))

struct Tree {
  int value = 0;
  std::vector<std::unique_ptr<Tree>> kids;
  Tree* parent = nullptr;
};
XGATE_TYPE(Tree, "t.Tree", 1, (), (value, kids, parent))

// Raw pointers into values held elsewhere in the graph.
struct Item {
  std::string name;
  friend bool operator==(const Item&, const Item&) = default;
  friend auto operator<=>(const Item&, const Item&) = default;
};
XGATE_TYPE(Item, "t.Item", 1, (), (name))

struct Catalog {
  std::vector<Item> items;
  std::map<std::string, Item> by_key;
  std::set<Item> sorted;
  Item* favourite = nullptr;
  Item* mapped = nullptr;
  const Item* in_set = nullptr;
  std::unique_ptr<Item> boxed;
  Item* to_boxed = nullptr;
};
XGATE_TYPE(Catalog, "t.Catalog", 1, (), (items, by_key, sorted, favourite, mapped, in_set, boxed, to_boxed))

struct Payslip {
  std::string employee;
  xgate::restricted<double> salary;
  xgate::restricted<std::string> notes;
};
XGATE_TYPE(Payslip, "t.Payslip", 1, (), (employee, salary, notes))

// Versioned types: the same name at two versions, as two programs would see it.
namespace v1 {
struct Account {
  std::string owner;
  int balance = 0;
};
XGATE_TYPE(Account, "t.Account", 1, (), (owner, balance))
}  // namespace v1
namespace v2 {
struct Account {
  std::string owner;
  int balance = 0;
  std::string currency = "EUR";
  int upgraded_from = 0;
};
XGATE_TYPE(Account, "t.Account", 2, (), (owner, balance, currency))
inline void xgate_upgrade(Account& a, unsigned from_version) { a.upgraded_from = static_cast<int>(from_version); }
}  // namespace v2

}  // namespace t

XGATE_REGISTER(t::Circle);
XGATE_REGISTER(t::Square);
XGATE_REGISTER(t::Shape);
XGATE_REGISTER(t::Node);
