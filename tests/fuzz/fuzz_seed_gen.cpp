// Writes and checks the seed corpus of fuzz_decode.
//
//   fuzz_seed_gen write DIR   writes every seed into DIR
//   fuzz_seed_gen check DIR   checks DIR holds exactly what `write` would write, and that each
//                             seed still behaves as its name says: canonical-* decode and
//                             re-encode to the same bytes, accepted-* decode, refused-* are
//                             refused with the expected error code by every fuzz type.
//
// The seeds are produced by xgate::to_xml from the fuzz types; hostile ones are such an
// encoding with one defect put in by hand, so a change of the encoder that invalidates a
// seed shows up here (run `write` again) instead of silently weakening the fuzzer.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz_types.hpp"

namespace {

enum class expect { canonical, accepted, refused };

struct seed {
  std::string name;  // file name without directory
  std::string type;  // the fuzz type the seed is for
  std::string content;
  expect expectation;
  xgate::errc code{};           // for refused seeds, with the seed's own type
  std::string principal;        // who decodes
  bool verify = false;          // decode with fuzz's verify key (and re-encode signed)
  int indent = 2;               // the encoding's indentation, for the canonical check
};

std::string replace_once(std::string s, std::string_view from, std::string_view to) {
  std::size_t pos = s.find(from);
  if (pos == std::string::npos)
    throw std::runtime_error("seed generator: \"" + std::string(from) + "\" not found in an encoding (has the format changed?)");
  return s.replace(pos, from.size(), to);
}

fz::Scalars full_scalars() {
  fz::Scalars s;
  s.i8 = std::numeric_limits<std::int8_t>::min();
  s.u8 = std::numeric_limits<std::uint8_t>::max();
  s.i16 = std::numeric_limits<std::int16_t>::min();
  s.u16 = std::numeric_limits<std::uint16_t>::max();
  s.i32 = std::numeric_limits<std::int32_t>::min();
  s.u32 = std::numeric_limits<std::uint32_t>::max();
  s.i64 = std::numeric_limits<std::int64_t>::min();
  s.u64 = std::numeric_limits<std::uint64_t>::max();
  s.ch = 'x';
  s.d = 0.1;
  s.f = std::numeric_limits<float>::denorm_min();
  s.b = true;
  s.color = fz::Color::blue;
  s.level = fz::Level::high;
  s.text = "A&B <tag> \"q\" 'a'\ttab\r\nline \x01\x7f caf\xc3\xa9 \xe2\x98\x83 bad\xff end";
  s.bytes = {std::byte{0}, std::byte{1}, std::byte{0x7f}, std::byte{0x80}, std::byte{0xff}};
  s.timeout = std::chrono::milliseconds(1500);
  s.when = std::chrono::system_clock::time_point(std::chrono::system_clock::duration(1234567890));
  return s;
}

fz::Scalars special_scalars() {
  fz::Scalars s;
  std::uint64_t nan_bits = 0x7ff0000000000123ull;  // a signalling NaN with a payload
  std::memcpy(&s.d, &nan_bits, sizeof s.d);
  s.f = -std::numeric_limits<float>::infinity();
  s.i64 = -1;
  s.level = static_cast<fz::Level>(7);  // no enumerator: travels as a number
  s.text = "  leading and trailing space  ";
  return s;
}

fz::Containers full_containers() {
  fz::Containers c;
  c.ints = {-1, 0, 1, 2147483647};
  c.flags = {true, false, true};
  c.reals = {-0.0, 1.5, 1e300};
  c.words = {"one", "two & three", ""};
  c.triple = {1, 2, 65535};
  c.unique = {-5, 5, 50};
  c.tags = {"b", "a", "b"};
  c.hashed = {3, 1, 2};
  c.counts = {{"x", 1}, {"y", -2}};
  c.multi = {{1, "first"}, {1, "second"}, {0, "zero"}};
  c.table = {{"pi", 3.14159}, {"e", 2.71828}};
  c.bag = {{7, "seven"}, {3, "three"}};
  c.note = "a note";
  c.inner = fz::Scalars{};
  c.choice = std::string("chosen");
  c.pair = {42, "answer"};
  c.tuple = {1, 2.5, "three"};
  c.nested = {{fz::Key{1, "k"}, {1, 2, 3}}, {fz::Key{2, ""}, {}}};
  c.keys = {fz::Key{10, "ten"}, fz::Key{20, "twenty"}};
  c.chosen = &*std::next(c.keys.begin());
  return c;
}

fz::Graph full_graph() {
  fz::Graph g;
  g.root = std::make_shared<fz::Node>();
  g.root->name = "root";
  for (int i = 0; i < 3; ++i) {
    auto child = std::make_shared<fz::Node>();
    child->name = "child" + std::to_string(i);
    child->parent = g.root;
    g.root->children.push_back(child);
  }
  g.root->children[0]->buddy = g.root->children[2].get();
  auto grandchild = std::make_shared<fz::Node>();
  grandchild->name = "grandchild";
  grandchild->parent = g.root->children[1];
  grandchild->buddy = g.root.get();
  g.root->children[1]->children.push_back(grandchild);
  g.local.resize(2);
  g.local[0].name = "local0";
  g.local[1].name = "local1";
  g.local[0].buddy = &g.local[1];
  g.local[1].children.push_back(g.root->children[2]);  // shared with the tree
  g.by_name["left"].name = "left";
  g.by_name["right"].name = "right";
  g.by_name["right"].buddy = &g.by_name["left"];
  g.pick = &g.local[1];
  g.watch = grandchild;
  return g;
}

fz::Scene full_scene() {
  fz::Scene s;
  s.title = "a scene";
  auto circle = std::make_unique<fz::Circle>();
  circle->label = "c1";
  circle->radius = 2;
  s.shapes.push_back(std::move(circle));
  auto poly = std::make_unique<fz::Polygon>();
  poly->label = "triangle";
  poly->points = {{0, 0}, {1, 0}, {0, 1}};
  s.shapes.push_back(std::move(poly));
  auto focus = std::make_shared<fz::Circle>();
  focus->label = "focus";
  focus->radius = 0.5;
  auto group = std::make_unique<fz::Group>();
  group->label = "g";
  group->items.push_back(std::make_unique<fz::Shape>());
  group->items.back()->label = "plain shape";
  group->shared = focus;
  s.shapes.push_back(std::move(group));
  s.background = std::make_unique<fz::Polygon>();
  s.focus = focus;
  s.hover = focus;
  s.selected = s.shapes[1].get();
  auto hammer = std::make_unique<fz::Hammer>();
  hammer->maker = "acme";
  hammer->grams = 500;
  s.tool = std::move(hammer);
  s.circle = std::make_shared<fz::Circle>();
  s.circle->label = "only circle";
  xgate::rights_override secret_rights;
  secret_rights.read = xgate::principal_list{"alice"};
  s.secret = xgate::restricted<std::string>("s3cret", secret_rights);
  return s;
}

xgate::rights scene_rights() { return xgate::rights::owned_by("alice").readers({"*"}).writers({"alice", "bob"}); }

std::vector<seed> all_seeds() {
  using xgate::errc;
  std::vector<seed> v;
  auto canonical = [&](std::string name, std::string type, std::string content, std::string principal = {},
                       bool verify = false, int indent = 2) {
    v.push_back({std::move(name), std::move(type), std::move(content), expect::canonical, {}, std::move(principal), verify, indent});
  };
  auto accepted = [&](std::string name, std::string type, std::string content) {
    v.push_back({std::move(name), std::move(type), std::move(content), expect::accepted, {}, {}, false});
  };
  auto refused = [&](std::string name, std::string type, errc code, std::string content) {
    v.push_back({std::move(name), std::move(type), std::move(content), expect::refused, code, {}, false});
  };

  const std::string scalars0 = xgate::to_xml(fz::Scalars{});
  const std::string scalars = xgate::to_xml(full_scalars());
  const std::string containers = xgate::to_xml(full_containers());
  const std::string graph = xgate::to_xml(full_graph());
  xgate::encode_options scene_options;
  scene_options.rights = scene_rights();
  const std::string scene = xgate::to_xml(full_scene(), scene_options);

  canonical("canonical-scalars-default.xml", "fz.Scalars", scalars0);
  canonical("canonical-scalars-full.xml", "fz.Scalars", scalars);
  canonical("canonical-scalars-special.xml", "fz.Scalars", xgate::to_xml(special_scalars()));
  canonical("canonical-containers-default.xml", "fz.Containers", xgate::to_xml(fz::Containers{}));
  canonical("canonical-containers-full.xml", "fz.Containers", containers);
  {
    fz::Containers c;
    c.choice = full_scalars();
    c.inner.reset();
    xgate::encode_options one_line;
    one_line.indent = 0;
    canonical("canonical-containers-variant.xml", "fz.Containers", xgate::to_xml(c, one_line), {}, false, 0);
  }
  canonical("canonical-graph.xml", "fz.Graph", graph);
  canonical("canonical-scene.xml", "fz.Scene", scene, "alice");
  {
    const xgate::signing_key key = fz::signing_key();
    xgate::encode_options signed_options = scene_options;
    signed_options.sign = &key;
    canonical("canonical-scene-signed.xml", "fz.Scene", xgate::to_xml(full_scene(), signed_options), "alice", true);
  }

  // Older versions: accepted, upgraded, written back at the current version.
  accepted("accepted-scene-v1.xml", "fz.Scene",
           replace_once(replace_once(replace_once(scene, " xg:v=\"3\"", ""), "<fz.Circle xg:v=\"2\">", "<fz.Circle>"),
                        "<radius>2</radius>", ""));
  accepted("accepted-lenient-order.xml", "fz.Scalars",
           replace_once(scalars0, "<i8>0</i8>", "<i8>0</i8><!-- a comment --><![CDATA[ ]]>"));

  // Hostile input: each one is a valid encoding with one defect.
  refused("refused-doctype.xml", "fz.Scalars", errc::forbidden_markup,
          replace_once(scalars0, "<xg:doc",
                       "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]>\n<xg:doc"));
  refused("refused-entity.xml", "fz.Scalars", errc::forbidden_markup, replace_once(scalars0, "<text/>", "<text>&xxe;</text>"));
  refused("refused-charref.xml", "fz.Scalars", errc::bad_text, replace_once(scalars0, "<text/>", "<text>&#0;</text>"));
  refused("refused-nul.xml", "fz.Scalars", errc::malformed_xml, replace_once(scalars0, "<text/>", std::string("<text>\0</text>", 14)));
  refused("refused-truncated.xml", "fz.Scalars", errc::malformed_xml, scalars0.substr(0, scalars0.size() / 2));
  refused("refused-not-xgate.xml", "fz.Scalars", errc::not_xgate_document, replace_once(scalars0, "urn:xgate:1", "urn:other"));
  refused("refused-int8-overflow.xml", "fz.Scalars", errc::number_out_of_range, replace_once(scalars0, "<i8>0</i8>", "<i8>128</i8>"));
  refused("refused-u64-negative.xml", "fz.Scalars", errc::number_out_of_range, replace_once(scalars0, "<u64>0</u64>", "<u64>-1</u64>"));
  refused("refused-int-garbage.xml", "fz.Scalars", errc::bad_number, replace_once(scalars0, "<i32>0</i32>", "<i32>0x10</i32>"));
  refused("refused-double-range.xml", "fz.Scalars", errc::number_out_of_range, replace_once(scalars0, "<d>0</d>", "<d>1e999</d>"));
  refused("refused-nan-payload.xml", "fz.Scalars", errc::bad_number, replace_once(scalars0, "<d>0</d>", "<d>NaN(0x)</d>"));
  refused("refused-bool.xml", "fz.Scalars", errc::bad_value, replace_once(scalars0, "<b>false</b>", "<b>yes</b>"));
  refused("refused-enum.xml", "fz.Scalars", errc::bad_value, replace_once(scalars0, "<color>red</color>", "<color>purple</color>"));
  refused("refused-base64.xml", "fz.Scalars", errc::bad_base64, replace_once(scalars0, "<bytes/>", "<bytes>@@@=</bytes>"));
  refused("refused-xgx.xml", "fz.Scalars", errc::bad_text, replace_once(scalars0, "<text/>", "<text><xg:x>ABC</xg:x></text>"));
  refused("refused-unknown-field.xml", "fz.Scalars", errc::unknown_field, replace_once(scalars0, "<i8>0</i8>", "<i8>0</i8><extra/>"));
  refused("refused-missing-field.xml", "fz.Scalars", errc::missing_field, replace_once(scalars0, "<i8>0</i8>", ""));
  refused("refused-version.xml", "fz.Scene", errc::version_too_new, replace_once(scene, " xg:v=\"3\"", " xg:v=\"4\""));
  refused("refused-access.xml", "fz.Scene", errc::access_denied, replace_once(scene, "read=\"*\"", "read=\"carol\""));
  refused("refused-unknown-type.xml", "fz.Scene", errc::unknown_type,
          replace_once(replace_once(scene, "<fz.Hammer>", "<fz.Anvil>"), "</fz.Hammer>", "</fz.Anvil>"));
  refused("refused-abstract-type.xml", "fz.Scene", errc::abstract_type,
          replace_once(replace_once(scene, "<fz.Hammer>", "<fz.Tool>"), "</fz.Hammer>", "</fz.Tool>"));
  refused("refused-wrong-root.xml", "fz.Graph", errc::wrong_root_type,
          replace_once(replace_once(scalars0, "<fz.Scalars>", "<fz.Node>"), "</fz.Scalars>", "</fz.Node>"));
  refused("refused-missing-id.xml", "fz.Scene", errc::missing_id, replace_once(scene, "<focus xg:ref=\"", "<focus xg:ref=\"o99"));
  {
    // A <fz.Circle> in the pool where the tree's root node should be.
    fz::Graph g;
    g.root = std::make_shared<fz::Node>();
    std::string doc = replace_once(xgate::to_xml(g), "<fz.Node xg:id=\"o1\">", "<fz.Circle xg:id=\"o1\">");
    std::size_t close = doc.rfind("</fz.Node>");
    if (close == std::string::npos) throw std::runtime_error("seed generator: no </fz.Node> in a graph");
    refused("refused-wrong-ref-type.xml", "fz.Graph", errc::wrong_ref_type, doc.replace(close, 10, "</fz.Circle>"));
  }
  refused("refused-duplicate-key.xml", "fz.Containers", errc::duplicate_key,
          replace_once(containers, "<key>y</key>", "<key>x</key>"));
  // Found by fuzzing (findings/README.md): pool objects that no shared_ptr from the root owns.
  // A weak_ptr is the only owner of o1, which a raw pointer aims at (it used to dangle):
  refused("refused-weak-only-owner.xml", "fz.Graph", errc::unreferenced_object, R"(<?xml version="1.0" encoding="UTF-8"?>
<xg:doc xmlns:xg="urn:xgate:1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <fz.Graph>
    <root xsi:nil="true"/>
    <local>
      <item>
        <name>a</name>
        <children/>
        <parent xg:ref="o1"/>
        <buddy xg:ref="o1"/>
      </item>
    </local>
    <by_name/>
    <pick xsi:nil="true"/>
    <watch xsi:nil="true"/>
  </fz.Graph>
  <fz.Node xg:id="o1">
    <name>only weakly owned</name>
    <children/>
    <parent xsi:nil="true"/>
    <buddy xsi:nil="true"/>
  </fz.Node>
</xg:doc>
)");
  // o1 and o2 own each other; the value reaches them only through a weak_ptr (they leaked):
  refused("refused-weak-only-island.xml", "fz.Graph", errc::unreferenced_object, R"(<?xml version="1.0" encoding="UTF-8"?>
<xg:doc xmlns:xg="urn:xgate:1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <fz.Graph>
    <root xsi:nil="true"/>
    <local>
      <item>
        <name>a</name>
        <children/>
        <parent xg:ref="o1"/>
        <buddy xsi:nil="true"/>
      </item>
    </local>
    <by_name/>
    <pick xsi:nil="true"/>
    <watch xsi:nil="true"/>
  </fz.Graph>
  <fz.Node xg:id="o1">
    <name>island 1</name>
    <children>
      <item xg:ref="o2"/>
    </children>
    <parent xsi:nil="true"/>
    <buddy xsi:nil="true"/>
  </fz.Node>
  <fz.Node xg:id="o2">
    <name>island 2</name>
    <children>
      <item xg:ref="o1"/>
    </children>
    <parent xsi:nil="true"/>
    <buddy xsi:nil="true"/>
  </fz.Node>
</xg:doc>
)");
  {
    // Nesting beyond the limit: groups inside groups (every level is a real decode step).
    std::string deep;
    for (int i = 0; i < 70; ++i) deep += "<fz.Group><label/><items><item>";
    deep += "<fz.Shape><label/></fz.Shape>";
    for (int i = 0; i < 70; ++i) deep += "</item></items><shared xsi:nil=\"true\"/></fz.Group>";
    std::string doc = scene;
    std::size_t begin = doc.find("<background>");
    std::size_t end = doc.find("</background>");
    if (begin == std::string::npos || end == std::string::npos) throw std::runtime_error("seed generator: no <background> in the scene");
    doc.replace(begin, end - begin, "<background>" + deep);
    refused("refused-deep.xml", "fz.Scene", errc::too_deep, doc);
  }
  {
    // Deep markup inside a string: refused by the nesting limit, before any recursion.
    std::string deep;
    for (int i = 0; i < 100; ++i) deep += "<a>";
    for (int i = 0; i < 100; ++i) deep += "</a>";
    refused("refused-deep-markup.xml", "fz.Scalars", errc::too_deep, replace_once(scalars0, "<text/>", "<text>" + deep + "</text>"));
  }
  return v;
}

xgate::decode_options options_for(const seed& s, const xgate::verify_key& key) {
  xgate::decode_options o;
  o.principal = s.principal;
  o.limits.max_bytes = std::size_t{1} << 20;
  o.limits.max_depth = 64;
  o.document_name = s.name;
  if (s.verify) o.verify = &key;
  return o;
}

// Decodes with type T; returns the re-encoding, or throws what the decoder threw.
template <class T>
std::string recode(const seed& s, const xgate::decode_options& o, const xgate::signing_key* sign) {
  xgate::decoded<T> got = xgate::decode<T>(s.content, o);
  xgate::encode_options eo;
  eo.rights = got.rights;
  eo.sign = sign;
  eo.indent = s.indent;
  if constexpr (std::is_same_v<T, fz::Scene>)
    if (got.value.secret.withheld()) return {};
  std::string out = xgate::to_xml(got.value, eo);
  fz::break_cycles(got.value);
  return out;
}

using recoder = std::function<std::string(const seed&, const xgate::decode_options&, const xgate::signing_key*)>;

const std::vector<std::pair<std::string, recoder>>& recoders() {
  static const std::vector<std::pair<std::string, recoder>> r = {
      {"fz.Scalars", &recode<fz::Scalars>},
      {"fz.Containers", &recode<fz::Containers>},
      {"fz.Graph", &recode<fz::Graph>},
      {"fz.Scene", &recode<fz::Scene>},
  };
  return r;
}

// Returns a description of what is wrong with the seed, or an empty string.
std::string check_seed(const seed& s, const xgate::verify_key& vkey, const xgate::signing_key& skey) {
  xgate::decode_options o = options_for(s, vkey);
  std::ostringstream problems;
  for (const auto& [type, fn] : recoders()) {
    bool own = type == s.type;
    try {
      std::string out = fn(s, o, s.verify ? &skey : nullptr);
      if (!own) problems << "decodes as " << type << " too; ";
      else if (s.expectation == expect::refused) problems << "was not refused; ";
      else if (s.expectation == expect::canonical && out != s.content)
        problems << "re-encodes differently:\n--- seed ---\n" << s.content << "\n--- re-encoded ---\n" << out << "\n";
    } catch (const xgate::error& e) {
      if (own && s.expectation != expect::refused) problems << "refused: " << e.what() << "; ";
      if (own && s.expectation == expect::refused && e.code() != s.code)
        problems << "refused with " << xgate::code_name(e.code()) << " instead of " << xgate::to_string(s.code) << ": " << e.what() << "; ";
    }
  }
  return problems.str();
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int write(const std::filesystem::path& dir, const std::vector<seed>& seeds) {
  std::filesystem::create_directories(dir);
  for (const seed& s : seeds) {
    std::ofstream out(dir / s.name, std::ios::binary);
    out << s.content;
    if (!out.flush()) {
      std::cerr << "fuzz_seed_gen: cannot write " << (dir / s.name) << "\n";
      return 1;
    }
  }
  std::cout << "fuzz_seed_gen: wrote " << seeds.size() << " seeds to " << dir << "\n";
  return 0;
}

int check(const std::filesystem::path& dir, const std::vector<seed>& seeds) {
  const xgate::verify_key vkey = fz::verify_key();
  const xgate::signing_key skey = fz::signing_key();
  int failures = 0;
  std::set<std::string> expected;
  for (const seed& s : seeds) {
    expected.insert(s.name);
    std::string problem = check_seed(s, vkey, skey);
    if (!problem.empty()) {
      std::cerr << s.name << ": " << problem << "\n";
      ++failures;
    }
    if (!std::filesystem::exists(dir / s.name)) {
      std::cerr << s.name << ": missing from " << dir << "\n";
      ++failures;
    } else if (read_file(dir / s.name) != s.content) {
      std::cerr << s.name << ": differs from what the generator writes now\n";
      ++failures;
    }
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!expected.count(entry.path().filename().string())) {
      std::cerr << entry.path().filename().string() << ": not a generated seed (the corpus holds only generated seeds)\n";
      ++failures;
    }
  }
  if (failures) {
    std::cerr << "fuzz_seed_gen: " << failures << " problem(s) in " << dir
              << ". If the encoding changed on purpose, regenerate: fuzz_seed_gen write " << dir << "\n";
    return 1;
  }
  std::cout << "fuzz_seed_gen: " << seeds.size() << " seeds in " << dir << " are current and behave as named\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[1], "write") != 0 && std::strcmp(argv[1], "check") != 0)) {
    std::cerr << "usage: fuzz_seed_gen write|check DIR\n";
    return 2;
  }
  try {
    const std::vector<seed> seeds = all_seeds();
    return std::strcmp(argv[1], "write") == 0 ? write(argv[2], seeds) : check(argv[2], seeds);
  } catch (const std::exception& e) {
    std::cerr << "fuzz_seed_gen: " << e.what() << "\n";
    return 1;
  }
}
