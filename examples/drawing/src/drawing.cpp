#include <xgate/examples/drawing.hpp>

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string_view>
#include <typeinfo>
#include <unordered_map>
#include <utility>

namespace example {

double Circle::area() const { return 3.14159265358979323846 * radius * radius; }

double Polygon::area() const {
  if (!closed || points.size() < 3) return 0;
  double twice = 0;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    const Point& q = points[(i + 1) % points.size()];
    twice += p.x * q.y - q.x * p.y;
  }
  return std::fabs(twice) / 2;
}

double Group::area() const {
  double sum = 0;
  for (const auto& c : children)
    if (c) sum += c->area();
  return sum;
}

// ---- generation ------------------------------------------------------------------------
namespace {

// Everything is derived from raw mt19937_64 output with integer arithmetic or one correctly
// rounded division, so a seed gives the same drawing with any standard library (the
// std::uniform_*_distribution algorithms are implementation-defined).
class generator {
 public:
  explicit generator(std::uint64_t seed) : engine_(seed) {}
  std::uint64_t bits() { return engine_(); }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(engine_() % n); }
  bool chance(unsigned percent) { return engine_() % 100 < percent; }
  // -1000.000 .. 1000.000 in steps of 0.001: decimal values most of which no double holds.
  double coordinate() { return static_cast<double>(static_cast<std::int64_t>(engine_() % 2000001) - 1000000) / 1000.0; }
  double positive(std::uint64_t max_hundredths) {
    return static_cast<double>(1 + engine_() % max_hundredths) / 100.0;
  }
  // Any finite double, subnormals included.
  double finite() {
    for (;;) {
      std::uint64_t b = engine_();
      if (((b >> 52) & 0x7ff) != 0x7ff) return std::bit_cast<double>(b);
    }
  }
  double subnormal() { return std::bit_cast<double>((engine_() & 0x800fffffffffffffull) | 1); }

 private:
  std::mt19937_64 engine_;
};

// Labels that stress the text rules: markup characters, quotes, non-ASCII, white space at
// the edges, control bytes XML cannot carry, and the empty string (not the same as none).
constexpr std::array<std::string_view, 12> tricky_labels = {
    "Ada & Co",  "<b>bold</b> \"quoted\" 'single'", "caf\xc3\xa9 \xe2\x9c\x93", "  padded  ",
    "tab\there",  "line1\nline2\r\nline3",          "bell\x07 and escape\x1b",   "",
    "]]> end",    "   ",                            "x",                          "\xf0\x9f\x8e\xa8 palette"};

constexpr std::array<Color, 6> colors = {Color::black, Color::white, Color::red, Color::green, Color::blue, Color::amber};

class builder {
 public:
  builder(generator& g, std::size_t budget) : g_(g), budget_(budget) {}

  std::size_t budget() const { return budget_; }
  const std::vector<std::shared_ptr<Shape>>& all() const { return all_; }
  const std::vector<std::shared_ptr<Shape>>& nested_leaves() const { return nested_leaves_; }

  std::shared_ptr<Circle> circle() {
    auto c = std::make_shared<Circle>();
    fill_common(*c);
    c->center = {g_.coordinate(), g_.coordinate()};
    c->radius = g_.positive(50000);
    return c;
  }

  // One shape (a group counts as one, plus its children), taking from the budget.
  std::shared_ptr<Shape> shape(int depth, const std::shared_ptr<Group>& parent) {
    std::size_t roll = g_.below(10);
    std::shared_ptr<Shape> s;
    if (roll < 2 && depth < 3 && budget_ >= 3) {
      auto grp = std::make_shared<Group>();
      fill_common(*grp);
      grp->parent = parent;
      std::size_t n = 1 + g_.below(4);
      for (std::size_t i = 0; i < n && budget_ > 0; ++i) {
        std::shared_ptr<Shape> child = shape(depth + 1, grp);
        if (!dynamic_cast<Group*>(child.get())) nested_leaves_.push_back(child);
        grp->children.push_back(std::move(child));
      }
      s = grp;
    } else if (roll < 6) {
      s = circle();
    } else {
      auto p = std::make_shared<Polygon>();
      fill_common(*p);
      std::size_t n = 2 + g_.below(6);
      for (std::size_t i = 0; i < n; ++i) p->points.push_back({g_.coordinate(), g_.coordinate()});
      p->closed = g_.chance(80);
      s = p;
    }
    return s;
  }

  // Records a finished shape (and its subtree) for picking the focus.
  void record(const std::shared_ptr<Shape>& s) {
    all_.push_back(s);
    if (auto grp = std::dynamic_pointer_cast<Group>(s))
      for (const auto& c : grp->children) record(c);
  }

 private:
  void fill_common(Shape& s) {
    if (budget_ > 0) --budget_;
    s.id = "s" + std::to_string(++serial_);
    if (g_.chance(40)) s.label = std::string(tricky_labels[g_.below(tricky_labels.size())]);
    static constexpr std::array<double, 6> strokes = {0.5, 1, 1.5, 0.1 + 0.2, 1.0 / 3, 0};
    s.stroke = strokes[g_.below(strokes.size())];
    s.color = colors[g_.below(colors.size())];
  }

  generator& g_;
  std::size_t budget_;
  std::size_t serial_ = 0;
  std::vector<std::shared_ptr<Shape>> all_;
  std::vector<std::shared_ptr<Shape>> nested_leaves_;
};

}  // namespace

Drawing make_drawing(std::uint64_t seed, std::size_t count) {
  generator g(seed);
  Drawing d;
  d.title = "drawing " + std::to_string(seed) + "/" + std::to_string(count);
  d.revision = g.bits();  // the full 64-bit range

  d.style = {{"font-family", "\"Fira Sans\", sans-serif"},
             {"stroke-linecap", "round"},
             {"note", "Ada & Co <draft>"},
             {"empty", ""}};
  for (std::size_t i = 0, n = g.below(4); i < n; ++i)
    d.style["custom-" + std::to_string(i)] = std::to_string(g.bits());
  d.palette = {{"background", Color::white}, {"ink", Color::black}};
  for (std::size_t i = 0, n = 1 + g.below(4); i < n; ++i)
    d.palette["accent-" + std::to_string(i)] = colors[g.below(colors.size())];

  // Exactness: each value has exactly one shortest spelling that reads back to the same bits.
  d.samples = {0.1 + 0.2,
               1.0 / 3,
               -0.0,
               0.0,
               5e-324,
               1e308,
               std::numeric_limits<double>::max(),
               -std::numeric_limits<double>::max(),
               std::numeric_limits<double>::min(),
               std::numeric_limits<double>::epsilon(),
               9007199254740993.0,  // 2^53 + 1 rounds to 2^53
               123456789.123456789,
               -1.5e-300};
  for (int i = 0; i < 4; ++i) d.samples.push_back(g.finite());
  d.samples.push_back(g.subnormal());

  d.specials.nan = std::numeric_limits<double>::quiet_NaN();
  d.specials.negative_nan = -std::numeric_limits<double>::quiet_NaN();
  d.specials.payload_nan = std::bit_cast<double>(0x7ff8000000000000ull | ((g.bits() & 0x7ffffffffffffull) | 1));
  d.specials.infinity = std::numeric_limits<double>::infinity();
  d.specials.negative_infinity = -std::numeric_limits<double>::infinity();
  d.specials.single_nan = std::numeric_limits<float>::quiet_NaN();
  d.specials.single_third = 1.0f / 3;

  if (count == 0) return d;

  std::size_t layer_count = std::min<std::size_t>(2 + count / 25, 6);
  d.layers.resize(layer_count);
  for (std::size_t i = 0; i < layer_count; ++i) {
    Layer& l = d.layers[i];
    l.name = "layer " + std::to_string(i);
    l.visible = i == 0 || g.chance(75);
    l.opacity = static_cast<double>(g.below(101)) / 100.0;
  }

  builder b(g, count);
  // One object in two layers: the document must write it once and refer to it twice.
  std::shared_ptr<Shape> shared = b.circle();
  shared->label = "shared by layers 0 and 1";
  d.layers[0].shapes.push_back(shared);
  d.layers[1].shapes.push_back(shared);
  b.record(shared);
  while (b.budget() > 0) {
    std::shared_ptr<Shape> s = b.shape(0, nullptr);
    b.record(s);
    d.layers[g.below(layer_count)].shapes.push_back(std::move(s));
  }
  // A shape owned by a group and also listed directly by the last layer.
  if (!b.nested_leaves().empty())
    d.layers.back().shapes.push_back(b.nested_leaves()[g.below(b.nested_leaves().size())]);

  d.focus = b.all()[g.below(b.all().size())].get();
  d.active_layer = &d.layers[g.below(layer_count)];
  return d;
}

// ---- comparison ------------------------------------------------------------------------
namespace {

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }
bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Walks both graphs in step, building a one-to-one map between their objects: reaching an
// object a second time must reach its counterpart a second time. Non-owning pointers
// (parent, focus) are checked against the map once every owned object has been visited.
class matcher {
 public:
  bool shape_ptr(const Shape* a, const Shape* b) {
    if (!a || !b) return a == b;
    const void* ka = dynamic_cast<const void*>(a);
    const void* kb = dynamic_cast<const void*>(b);
    if (auto it = ab_.find(ka); it != ab_.end()) return it->second == kb;
    if (ba_.count(kb)) return false;  // b's object already stands for another object of a
    ab_.emplace(ka, kb);
    ba_.emplace(kb, ka);
    return shape(*a, *b);
  }

  void defer(const Shape* a, const Shape* b) { deferred_.emplace_back(a, b); }

  bool deferred_hold() const {
    for (auto [a, b] : deferred_) {
      if (!a || !b) {
        if (a != b) return false;
        continue;
      }
      auto it = ab_.find(dynamic_cast<const void*>(a));
      if (it == ab_.end() || it->second != dynamic_cast<const void*>(b)) return false;
    }
    return true;
  }

  bool layer(const Layer& a, const Layer& b) {
    if (a.name != b.name || a.visible != b.visible || !same_bits(a.opacity, b.opacity)) return false;
    if (a.shapes.size() != b.shapes.size()) return false;
    for (std::size_t i = 0; i < a.shapes.size(); ++i)
      if (!shape_ptr(a.shapes[i].get(), b.shapes[i].get())) return false;
    return true;
  }

 private:
  bool shape(const Shape& a, const Shape& b) {
    if (typeid(a) != typeid(b)) return false;
    if (a.id != b.id || a.label != b.label || !same_bits(a.stroke, b.stroke) || a.color != b.color) return false;
    if (auto* ca = dynamic_cast<const Circle*>(&a)) {
      auto* cb = dynamic_cast<const Circle*>(&b);
      return same_bits(ca->center.x, cb->center.x) && same_bits(ca->center.y, cb->center.y) &&
             same_bits(ca->radius, cb->radius);
    }
    if (auto* pa = dynamic_cast<const Polygon*>(&a)) {
      auto* pb = dynamic_cast<const Polygon*>(&b);
      if (pa->closed != pb->closed || pa->points.size() != pb->points.size()) return false;
      for (std::size_t i = 0; i < pa->points.size(); ++i)
        if (!same_bits(pa->points[i].x, pb->points[i].x) || !same_bits(pa->points[i].y, pb->points[i].y)) return false;
      return true;
    }
    if (auto* ga = dynamic_cast<const Group*>(&a)) {
      auto* gb = dynamic_cast<const Group*>(&b);
      defer(ga->parent.lock().get(), gb->parent.lock().get());
      if (ga->children.size() != gb->children.size()) return false;
      for (std::size_t i = 0; i < ga->children.size(); ++i)
        if (!shape_ptr(ga->children[i].get(), gb->children[i].get())) return false;
      return true;
    }
    return false;  // a shape type this function does not know
  }

  std::unordered_map<const void*, const void*> ab_, ba_;
  std::vector<std::pair<const Shape*, const Shape*>> deferred_;
};

// Index of `p` in `layers`; layers.size() for none; layers.size() + 1 for a pointer elsewhere.
std::size_t layer_index(const std::vector<Layer>& layers, const Layer* p) {
  if (!p) return layers.size();
  for (std::size_t i = 0; i < layers.size(); ++i)
    if (&layers[i] == p) return i;
  return layers.size() + 1;
}

}  // namespace

bool same_drawing(const Drawing& a, const Drawing& b) {
  if (a.title != b.title || a.revision != b.revision || a.style != b.style || a.palette != b.palette) return false;
  if (a.samples.size() != b.samples.size()) return false;
  for (std::size_t i = 0; i < a.samples.size(); ++i)
    if (!same_bits(a.samples[i], b.samples[i])) return false;
  const Specials &sa = a.specials, &sb = b.specials;
  if (!same_bits(sa.nan, sb.nan) || !same_bits(sa.negative_nan, sb.negative_nan) ||
      !same_bits(sa.payload_nan, sb.payload_nan) || !same_bits(sa.infinity, sb.infinity) ||
      !same_bits(sa.negative_infinity, sb.negative_infinity) || !same_bits(sa.single_nan, sb.single_nan) ||
      !same_bits(sa.single_third, sb.single_third))
    return false;
  if (a.layers.size() != b.layers.size()) return false;
  std::size_t ia = layer_index(a.layers, a.active_layer), ib = layer_index(b.layers, b.active_layer);
  if (ia != ib || ia > a.layers.size()) return false;
  matcher m;
  for (std::size_t i = 0; i < a.layers.size(); ++i)
    if (!m.layer(a.layers[i], b.layers[i])) return false;
  m.defer(a.focus, b.focus);
  return m.deferred_hold();
}

}  // namespace example

// The registrations live in the library's only translation unit, which consumers always get
// (the library is an OBJECT library, so the linker cannot drop this file).
XGATE_REGISTER(example::Point);
XGATE_REGISTER(example::Shape);
XGATE_REGISTER(example::Circle);
XGATE_REGISTER(example::Polygon);
XGATE_REGISTER(example::Group);
XGATE_REGISTER(example::Layer);
XGATE_REGISTER(example::Specials);
XGATE_REGISTER(example::Drawing);
XGATE_SAMPLE(example::Drawing, example::make_drawing);
