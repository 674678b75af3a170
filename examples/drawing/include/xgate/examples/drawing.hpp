// A vector drawing: layers of polymorphic shapes that share objects, point back at their
// parents and hold doubles that must come back bit for bit. It is the example xgate's tools
// (`xgate sample example.Drawing`) and tests use, and the code a user copies from.
//
//   example::Drawing d = example::make_drawing(7, 20);
//   std::string xml = xgate::to_xml(d);
//   auto back = xgate::from_xml<example::Drawing>(xml);
//   assert(example::same_drawing(d, back));
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <xgate/xmlcodec.hpp>

namespace example {

enum class Color { black, white, red, green, blue, amber };
XGATE_ENUM(Color, black, white, red, green, blue, amber)

struct Point {
  double x = 0;
  double y = 0;
};
XGATE_TYPE(Point, "example.Point", 1, (), (x, y))

// The abstract base every shape travels as: layers and groups hold std::shared_ptr<Shape>,
// and the document names the concrete type (example.Circle, ...) from the registry.
struct Shape {
  virtual ~Shape() = default;
  virtual double area() const = 0;

  std::string id;
  std::optional<std::string> label;
  double stroke = 1;
  Color color = Color::black;
};
XGATE_TYPE(Shape, "example.Shape", 1, (), (id, label, stroke, color))

struct Circle : Shape {
  double area() const override;
  Point center;
  double radius = 0;
};
XGATE_TYPE(Circle, "example.Circle", 1, (Shape), (center, radius))

struct Polygon : Shape {
  double area() const override;  // shoelace formula; 0 when open
  std::vector<Point> points;
  bool closed = true;
};
XGATE_TYPE(Polygon, "example.Polygon", 1, (Shape), (points, closed))

// Children are owned; the parent is not (weak_ptr), so a group and its subgroups form a
// cycle in the graph but not in ownership.
struct Group : Shape {
  double area() const override;  // sum over the children
  std::vector<std::shared_ptr<Shape>> children;
  std::weak_ptr<Group> parent;
};
XGATE_TYPE(Group, "example.Group", 1, (Shape), (children, parent))

struct Layer {
  std::string name;
  bool visible = true;
  double opacity = 1;
  std::vector<std::shared_ptr<Shape>> shapes;
};
XGATE_TYPE(Layer, "example.Layer", 1, (), (name, visible, opacity, shapes))

// Values with no decimal spelling: NaN (with sign and payload) and the infinities.
struct Specials {
  double nan = 0;
  double negative_nan = 0;
  double payload_nan = 0;  // a quiet NaN carrying a payload
  double infinity = 0;
  double negative_infinity = 0;
  float single_nan = 0;
  float single_third = 0;  // 1.0f/3: float spelling is shortest for float, not for double
};
XGATE_TYPE(Specials, "example.Specials", 1, (), (nan, negative_nan, payload_nan, infinity, negative_infinity,
                                                 single_nan, single_third))

struct Drawing {
  // The raw pointers below aim into this object (active_layer into `layers`, focus at a
  // shape the layers own): a copy would aim into the original, so Drawing only moves.
  Drawing() = default;
  Drawing(Drawing&&) = default;
  Drawing& operator=(Drawing&&) = default;
  Drawing(const Drawing&) = delete;
  Drawing& operator=(const Drawing&) = delete;

  std::string title;
  std::uint64_t revision = 0;
  std::vector<Layer> layers;
  std::map<std::string, std::string> style;  // CSS-like properties
  std::map<std::string, Color> palette;      // named colors
  Layer* active_layer = nullptr;             // non-owning: one of `layers`, or none
  Shape* focus = nullptr;                    // non-owning: the selected shape, or none
  std::vector<double> samples;               // doubles that must survive exactly
  Specials specials;
};
XGATE_TYPE(Drawing, "example.Drawing", 1, (),
           (title, revision, layers, style, palette, active_layer, focus, samples, specials))

// A deterministic drawing with roughly `count` shapes (the same bytes on every platform:
// values come from std::mt19937_64's raw output, which the standard specifies exactly).
// Every drawing with count >= 2 shares one shape between two layers, nests groups, sets
// `focus` and `active_layer`; count == 0 gives an empty drawing (no layers or shapes).
Drawing make_drawing(std::uint64_t seed, std::size_t count);

// Deep equality for tests: values compared through pointers, doubles bit for bit, and the
// same sharing structure (an object reached twice in `a` is one object reached twice in
// `b`; parents, focus and active layer aim at corresponding objects).
bool same_drawing(const Drawing& a, const Drawing& b);

}  // namespace example
