// The described types the decoder fuzzer decodes into, shared by fuzz_decode (the
// libFuzzer target) and fuzz_seed_gen (writes and checks the seed corpus). Together they
// reach every kind the codec knows: integers of each width, floating point, bool, enums
// (described and plain), strings, bytes, optional, variant, pair, tuple, durations,
// sequences, sets, maps (ordered, unordered, multi), shared_ptr graphs with weak
// back-pointers, raw pointers (to inline objects, set elements and pool objects),
// polymorphic unique_ptr/shared_ptr through registered types, an abstract registered
// type, a versioned type with an upgrade hook, and per-object access rights.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
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
#include <utility>
#include <variant>
#include <vector>

#include <xgate/xmlcodec.hpp>

namespace fz {

enum class Color { red, green, blue };
XGATE_ENUM(Color, red, green, blue)

enum class Level : std::int16_t { low = -1, high = 300 };  // not described: travels as a number

struct Scalars {
  std::int8_t i8 = 0;
  std::uint8_t u8 = 0;
  std::int16_t i16 = 0;
  std::uint16_t u16 = 0;
  std::int32_t i32 = 0;
  std::uint32_t u32 = 0;
  std::int64_t i64 = 0;
  std::uint64_t u64 = 0;
  char ch = 0;
  double d = 0;
  float f = 0;
  bool b = false;
  Color color = Color::red;
  Level level = Level::low;
  std::string text;
  std::vector<std::byte> bytes;
  std::chrono::milliseconds timeout{0};
  std::chrono::system_clock::time_point when{};
};
XGATE_TYPE(Scalars, "fz.Scalars", 1, (),
           (i8, u8, i16, u16, i32, u32, i64, u64, ch, d, f, b, color, level, text, bytes, timeout, when))

// Set elements are moved after decoding: raw pointers to them exercise relocation.
struct Key {
  std::int32_t id = 0;
  std::string name;
  friend bool operator<(const Key& a, const Key& b) { return std::tie(a.id, a.name) < std::tie(b.id, b.name); }
};
XGATE_TYPE(Key, "fz.Key", 1, (), (id, name))

struct Containers {
  std::vector<std::int32_t> ints;
  std::vector<bool> flags;
  std::deque<double> reals;
  std::list<std::string> words;
  std::array<std::uint16_t, 3> triple{};
  std::set<std::int64_t> unique;
  std::multiset<std::string> tags;
  std::unordered_set<std::uint32_t> hashed;
  std::map<std::string, std::int32_t> counts;
  std::multimap<std::int32_t, std::string> multi;
  std::unordered_map<std::string, double> table;
  std::unordered_multimap<std::int32_t, std::string> bag;
  std::optional<std::string> note;
  std::optional<Scalars> inner;
  std::variant<std::int32_t, std::string, Scalars, std::monostate> choice;
  std::pair<std::int32_t, std::string> pair;
  std::tuple<std::int32_t, double, std::string> tuple;
  std::map<Key, std::vector<std::int32_t>> nested;
  std::set<Key> keys;
  const Key* chosen = nullptr;  // aims at an element of `keys` (or nowhere)
};
XGATE_TYPE(Containers, "fz.Containers", 1, (),
           (ints, flags, reals, words, triple, unique, tags, hashed, counts, multi, table, bag, note, inner, choice,
            pair, tuple, nested, keys, chosen))

// A shared graph: children are owned, the parent is a weak back-pointer, the buddy a raw
// pointer anywhere in the graph.
struct Node {
  std::string name;
  std::vector<std::shared_ptr<Node>> children;
  std::weak_ptr<Node> parent;
  Node* buddy = nullptr;
};
XGATE_TYPE(Node, "fz.Node", 1, (), (name, children, parent, buddy))

struct Graph {
  std::shared_ptr<Node> root;
  std::vector<Node> local;        // inline objects (raw pointer targets when they carry xg:id)
  std::map<std::string, Node> by_name;
  Node* pick = nullptr;
  std::weak_ptr<Node> watch;
};
XGATE_TYPE(Graph, "fz.Graph", 1, (), (root, local, by_name, pick, watch))

// Polymorphism through the registry.
struct Shape {
  virtual ~Shape() = default;
  std::string label;
};
XGATE_TYPE(Shape, "fz.Shape", 1, (), (label))

struct Circle : Shape {
  double radius = 0;
  std::int32_t upgraded_from = 0;  // set by the upgrade hook
};
XGATE_TYPE(Circle, "fz.Circle", 2, (Shape), (radius, upgraded_from))
inline void xgate_upgrade(Circle& c, unsigned from_version) { c.upgraded_from = static_cast<std::int32_t>(from_version); }

struct Polygon : Shape {
  std::vector<std::pair<double, double>> points;
};
XGATE_TYPE(Polygon, "fz.Polygon", 1, (Shape), (points))

struct Group : Shape {
  std::vector<std::unique_ptr<Shape>> items;
  std::shared_ptr<Shape> shared;
};
XGATE_TYPE(Group, "fz.Group", 1, (Shape), (items, shared))

// Registered but abstract: a document naming it must be refused.
struct Tool {
  virtual ~Tool() = default;
  virtual int weight() const = 0;
  std::string maker;
};
XGATE_TYPE(Tool, "fz.Tool", 1, (), (maker))

struct Hammer : Tool {
  int weight() const override { return grams; }
  std::int32_t grams = 0;
};
XGATE_TYPE(Hammer, "fz.Hammer", 1, (Tool), (grams))

struct Scene {
  std::string title;
  std::vector<std::unique_ptr<Shape>> shapes;
  std::unique_ptr<Shape> background;
  std::shared_ptr<Shape> focus;
  std::weak_ptr<Shape> hover;
  Shape* selected = nullptr;
  std::unique_ptr<Tool> tool;
  std::shared_ptr<Circle> circle;  // a pool object reached through its most derived type
  xgate::restricted<std::string> secret;
};
XGATE_TYPE(Scene, "fz.Scene", 3, (), (title, shapes, background, focus, hover, selected, tool, circle, secret))

XGATE_REGISTER(Shape);
XGATE_REGISTER(Circle);
XGATE_REGISTER(Polygon);
XGATE_REGISTER(Group);
XGATE_REGISTER(Tool);
XGATE_REGISTER(Hammer);
XGATE_REGISTER(Node);

// Decoded documents may hold cycles of owning pointers (a node among its own children, a
// group sharing itself). That is the document's right, but the cycle would leak when the
// value is destroyed; these cut every owning edge reachable from the value first.
void break_cycles(Graph& g);
void break_cycles(Scene& s);
inline void break_cycles(Scalars&) {}
inline void break_cycles(Containers&) {}

// A fixed Ed25519 key pair ("fuzz"), so that signed seeds verify in the fuzzer.
xgate::verify_key verify_key();
xgate::signing_key signing_key();  // goes through a key file in a temporary directory

}  // namespace fz
