#include "workloads.hpp"

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <unordered_map>
#include <utility>

namespace bench {

namespace {

// splitmix64: a fixed, portable generator (std distributions differ between libraries).
class rng {
 public:
  explicit rng(std::uint64_t s) : state_(s) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n), n > 0 (the bias is irrelevant here).
  std::uint64_t below(std::uint64_t n) { return next() % n; }
  std::int64_t between(std::int64_t lo, std::int64_t hi) {  // inclusive
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }
  bool chance(unsigned percent) { return below(100) < percent; }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1), 53 random bits

 private:
  std::uint64_t state_;
};

std::string word(rng& r, std::size_t min, std::size_t max, const char* alphabet) {
  std::size_t alen = std::strlen(alphabet);
  std::string s(static_cast<std::size_t>(r.between(static_cast<std::int64_t>(min), static_cast<std::int64_t>(max))), ' ');
  for (char& c : s) c = alphabet[r.below(alen)];
  return s;
}

constexpr const char* lower = "abcdefghijklmnopqrstuvwxyz";
constexpr const char* upper_digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

double from_bits(std::uint64_t b) { return std::bit_cast<double>(b); }
std::uint64_t to_bits(double d) { return std::bit_cast<std::uint64_t>(d); }

std::int64_t power10(int k) {
  std::int64_t p = 1;
  while (k-- > 0) p *= 10;
  return p;
}

std::string show_bytes(const std::string& s) {
  std::string out;
  for (unsigned char c : s.substr(0, 48)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  return '"' + out + (s.size() > 48 ? "\"..." : "\"") + " (" + std::to_string(s.size()) + " bytes)";
}

std::string show_double(double d) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g (bits 0x%016llX)", d, static_cast<unsigned long long>(to_bits(d)));
  return buf;
}

}  // namespace

// ---- records ------------------------------------------------------------------------------
Records make_records(std::size_t count) {
  rng r(seed ^ 0x7265636f726473ull);
  Records out;
  out.items.resize(count);
  for (Record& x : out.items) {
    std::int64_t magnitude = r.between(0, power10(static_cast<int>(r.between(1, 18))) - 1);
    x.id = r.chance(20) ? -magnitude : magnitude;
    if (r.chance(50))
      x.value = static_cast<double>(r.between(-10'000'000, 10'000'000)) / 100.0;  // money-like: 12345.67
    else
      x.value = (r.unit() - 0.5) * std::pow(10.0, static_cast<double>(r.between(-6, 9)));  // up to 17 digits
    x.flag = r.chance(50);
    x.color = static_cast<Color>(r.below(8));
    x.name = word(r, 4, 12, lower);
    x.tag = word(r, 2, 6, upper_digits);
  }
  return out;
}

// ---- tree -------------------------------------------------------------------------------
// A complete 4-ary tree: node k's parent is (k - 1) / 4, children in order.
Tree make_tree(std::size_t nodes) {
  rng r(seed ^ 0x74726565ull);
  Tree t;
  if (nodes == 0) return t;
  std::vector<std::unique_ptr<TreeNode>> owned(nodes);
  std::vector<TreeNode*> at(nodes);
  for (std::size_t k = 0; k < nodes; ++k) {
    owned[k] = std::make_unique<TreeNode>();
    owned[k]->key = r.between(-1'000'000'000, 1'000'000'000);
    owned[k]->label = word(r, 3, 10, lower);
    at[k] = owned[k].get();
  }
  for (std::size_t k = 1; k < nodes; ++k) at[(k - 1) / 4]->children.push_back(std::move(owned[k]));
  t.root = std::move(owned[0]);
  return t;
}

// ---- graph ------------------------------------------------------------------------------
// Tree edges of a complete 4-ary tree (heap numbering) as `children`, a weak `parent` back
// up each tree edge, and 0-2 `links` per node to nodes earlier in depth-first preorder that
// are not its ancestors. Such a link target's subtree is complete before the node is
// reached, so the strong edges stay acyclic (the graph frees itself), and archives that
// write a pointee inline on first sight (Boost, cereal) recurse only as deep as the tree.
Graph make_graph(std::size_t nodes) {
  rng r(seed ^ 0x6772617068ull);
  Graph g;
  if (nodes == 0) return g;
  auto parent_of = [](std::size_t heap) { return (heap - 1) / 4; };
  // Preorder numbering of the heap-shaped tree.
  std::vector<std::size_t> heap_of(nodes), pre_of(nodes);
  {
    std::vector<std::size_t> stack{0};
    std::size_t next = 0;
    while (!stack.empty()) {
      std::size_t h = stack.back();
      stack.pop_back();
      pre_of[h] = next;
      heap_of[next] = h;
      ++next;
      for (std::size_t c = 4; c >= 1; --c)  // push in reverse so the first child comes out first
        if (4 * h + c < nodes) stack.push_back(4 * h + c);
    }
  }
  g.nodes.resize(nodes);
  for (std::size_t i = 0; i < nodes; ++i) {
    g.nodes[i] = std::make_shared<GraphNode>();
    g.nodes[i]->id = static_cast<std::int64_t>(i);
    g.nodes[i]->weight = r.unit() * 1000.0;
  }
  for (std::size_t i = 0; i < nodes; ++i) {
    std::size_t h = heap_of[i];
    GraphNode& n = *g.nodes[i];
    for (std::size_t c = 1; c <= 4; ++c)
      if (4 * h + c < nodes) n.children.push_back(g.nodes[pre_of[4 * h + c]]);
    if (h != 0) n.parent = g.nodes[pre_of[parent_of(h)]];
    auto is_ancestor = [&](std::size_t candidate_heap) {
      for (std::size_t a = h; a != 0;) {
        a = parent_of(a);
        if (a == candidate_heap) return true;
      }
      return false;
    };
    std::uint64_t want = r.below(3);
    for (std::uint64_t l = 0; l < want && i > 0; ++l) {
      for (int attempt = 0; attempt < 8; ++attempt) {
        std::size_t target = static_cast<std::size_t>(r.below(i));
        if (is_ancestor(heap_of[target])) continue;
        n.links.push_back(g.nodes[target]);
        break;
      }
    }
  }
  return g;
}

// ---- strings ----------------------------------------------------------------------------
Strings make_strings(std::size_t count, bool with_nul) {
  rng r(seed ^ 0x737472696e6773ull);
  static const char* const multibyte[] = {
      "\xC3\xA9",          "\xC3\x9F",         "\xC3\xB1",         "\xD0\x96",         "\xCE\xBB",  // é ß ñ Ж λ
      "\xE2\x82\xAC",      "\xE4\xB8\xAD",     "\xE6\x97\xA5",     "\xE2\x80\x94",     "\xEF\xBF\xBD",  // € 中 日 — U+FFFD
      "\xF0\x9F\x98\x80",  "\xF0\x9D\x84\x9E", "\xF4\x8F\xBF\xBD",  // 😀 𝄞 U+10FFFD
  };
  static const char specials[] = {'<', '&', '>', '"', '\''};
  static const char spaces[] = {'\t', '\n', '\r', ' '};
  std::vector<char> controls;
  for (int c = with_nul ? 0 : 1; c < 0x20; ++c)
    if (c != '\t' && c != '\n' && c != '\r') controls.push_back(static_cast<char>(c));
  controls.push_back('\x7F');
  Strings out;
  out.items.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::uint64_t bucket = r.below(100);
    std::size_t len = bucket < 60   ? static_cast<std::size_t>(r.between(0, 16))
                      : bucket < 90 ? static_cast<std::size_t>(r.between(17, 128))
                      : bucket < 99 ? static_cast<std::size_t>(r.between(129, 1024))
                                    : static_cast<std::size_t>(r.between(1025, 8192));
    std::string s;
    s.reserve(len + 4);
    while (s.size() < len) {
      std::uint64_t k = r.below(100);
      if (k < 72) s += static_cast<char>(r.between(0x20, 0x7E));  // printable ASCII (a few specials too)
      else if (k < 80) s += specials[r.below(sizeof specials)];
      else if (k < 92) s += multibyte[r.below(std::size(multibyte))];
      else if (k < 96) s += spaces[r.below(sizeof spaces)];
      else s += controls[r.below(controls.size())];
    }
    out.items.push_back(std::move(s));
  }
  return out;
}

// ---- doubles ----------------------------------------------------------------------------
Doubles make_doubles(std::size_t count, bool with_specials) {
  rng r(seed ^ 0x646f75626c6573ull);
  constexpr double inf = std::numeric_limits<double>::infinity();
  std::vector<double> fixed = {
      0.0, -0.0, std::numeric_limits<double>::max(), -std::numeric_limits<double>::max(),
      std::numeric_limits<double>::min(), -std::numeric_limits<double>::min(),
      std::numeric_limits<double>::denorm_min(), -std::numeric_limits<double>::denorm_min(),
      from_bits(0x000fffffffffffffull),  // largest subnormal
      0.1, 1.0 / 3.0, 2.0 / 3.0, 0.1 + 0.2, 9007199254740992.0, 1e23, 5e-324, 1.7976931348623157e308,
      std::nextafter(1.0, 2.0), std::nextafter(0.1, 1.0), 123456789012345678.0};
  if (with_specials) {
    std::vector<double> specials = {inf, -inf, std::numeric_limits<double>::quiet_NaN(),
                                    -std::numeric_limits<double>::quiet_NaN(),
                                    from_bits(0x7ff8000000000123ull),  // quiet NaN with a payload
                                    from_bits(0x7ff0000000000001ull),  // signalling NaN
                                    from_bits(0xfff4000000000000ull),  // negative signalling NaN
                                    from_bits(0x7fffffffffffffffull)};  // all payload bits
    fixed.insert(fixed.end(), specials.begin(), specials.end());
  }
  Doubles out;
  out.values.reserve(count);
  for (std::size_t i = 0; i < count && i < fixed.size(); ++i) out.values.push_back(fixed[i]);
  while (out.values.size() < count) {
    std::uint64_t k = r.below(1000);
    double d;
    if (k < 300) {
      d = r.unit();  // 53 random bits: mostly 16-17 significant digits
    } else if (k < 500) {
      std::uint64_t bits;
      do bits = r.next();
      while (((bits >> 52) & 0x7ff) == 0x7ff);  // any finite value, the whole exponent range
      d = from_bits(bits);
    } else if (k < 600) {
      d = from_bits((r.next() & 0x800fffffffffffffull) | 1u);  // subnormal
    } else if (k < 750) {
      d = static_cast<double>(r.between(-1'000'000, 1'000'000)) / static_cast<double>(power10(static_cast<int>(r.between(0, 4))));
    } else if (k < 850) {
      d = static_cast<double>(r.between(-(std::int64_t{1} << 53), std::int64_t{1} << 53));
    } else if (k < 999 || !with_specials) {
      // The neighbour of a short decimal: needs all 17 digits.
      double base = static_cast<double>(r.between(1, 99'999)) / 1000.0;
      d = std::nextafter(base, r.chance(50) ? inf : -inf);
    } else {
      // Specials, 0.1%: infinities and NaNs with random payloads and signs.
      std::uint64_t sign = r.chance(50) ? 0x8000000000000000ull : 0;
      std::uint64_t payload = r.next() & 0x000fffffffffffffull;
      d = from_bits(sign | 0x7ff0000000000000ull | payload);  // payload 0: an infinity
    }
    out.values.push_back(d);
  }
  return out;
}

// ---- equality -----------------------------------------------------------------------------
namespace {
std::string at(const char* what, std::size_t i) { return std::string(what) + "[" + std::to_string(i) + "]"; }

std::optional<std::string> differ_double(const std::string& where, double a, double b) {
  if (to_bits(a) == to_bits(b)) return std::nullopt;
  return where + ": " + show_double(a) + " became " + show_double(b);
}
std::optional<std::string> differ_string(const std::string& where, const std::string& a, const std::string& b) {
  if (a == b) return std::nullopt;
  return where + ": " + show_bytes(a) + " became " + show_bytes(b);
}
}  // namespace

std::optional<std::string> difference(const Records& a, const Records& b) {
  if (a.items.size() != b.items.size())
    return "records: " + std::to_string(a.items.size()) + " items became " + std::to_string(b.items.size());
  for (std::size_t i = 0; i < a.items.size(); ++i) {
    const Record &x = a.items[i], &y = b.items[i];
    std::string w = at("records", i);
    if (x.id != y.id) return w + ".id: " + std::to_string(x.id) + " became " + std::to_string(y.id);
    if (auto d = differ_double(w + ".value", x.value, y.value)) return d;
    if (x.flag != y.flag) return w + ".flag differs";
    if (x.color != y.color)
      return w + ".color: " + std::to_string(static_cast<int>(x.color)) + " became " + std::to_string(static_cast<int>(y.color));
    if (auto d = differ_string(w + ".name", x.name, y.name)) return d;
    if (auto d = differ_string(w + ".tag", x.tag, y.tag)) return d;
  }
  return std::nullopt;
}

std::optional<std::string> difference(const Tree& a, const Tree& b) {
  // Iterative: compare the two trees node by node along a shared work list.
  std::vector<std::pair<const TreeNode*, const TreeNode*>> work{{a.root.get(), b.root.get()}};
  std::size_t visited = 0;
  while (!work.empty()) {
    auto [x, y] = work.back();
    work.pop_back();
    std::string w = "tree node #" + std::to_string(visited++);
    if (!x || !y) {
      if (x != y) return w + ": a null pointer where the other has a node";
      continue;
    }
    if (x->key != y->key) return w + ".key: " + std::to_string(x->key) + " became " + std::to_string(y->key);
    if (auto d = differ_string(w + ".label", x->label, y->label)) return d;
    if (x->children.size() != y->children.size())
      return w + ": " + std::to_string(x->children.size()) + " children became " + std::to_string(y->children.size());
    for (std::size_t i = 0; i < x->children.size(); ++i) work.emplace_back(x->children[i].get(), y->children[i].get());
  }
  return std::nullopt;
}

std::optional<std::string> difference(const Graph& a, const Graph& b) {
  if (a.nodes.size() != b.nodes.size())
    return "graph: " + std::to_string(a.nodes.size()) + " nodes became " + std::to_string(b.nodes.size());
  // Node i of a corresponds to node i of b; every pointer must respect that correspondence.
  std::unordered_map<const GraphNode*, std::size_t> index_a, index_b;
  index_a.reserve(a.nodes.size());
  index_b.reserve(b.nodes.size());
  for (std::size_t i = 0; i < a.nodes.size(); ++i) {
    if (!a.nodes[i] || !b.nodes[i]) return at("graph.nodes", i) + ": null";
    if (!index_a.emplace(a.nodes[i].get(), i).second) return at("graph.nodes", i) + ": the original lists a node twice";
    if (!index_b.emplace(b.nodes[i].get(), i).second)
      return at("graph.nodes", i) + ": decoded as the same object as an earlier node (sharing invented)";
  }
  auto same_target = [&](const GraphNode* x, const GraphNode* y) -> bool {
    if (!x || !y) return x == y;
    auto ix = index_a.find(x);
    auto iy = index_b.find(y);
    return ix != index_a.end() && iy != index_b.end() && ix->second == iy->second;
  };
  auto edges = [&](const std::string& w, const char* name, const std::vector<std::shared_ptr<GraphNode>>& x,
                   const std::vector<std::shared_ptr<GraphNode>>& y) -> std::optional<std::string> {
    if (x.size() != y.size())
      return w + "." + name + ": " + std::to_string(x.size()) + " edges became " + std::to_string(y.size());
    for (std::size_t k = 0; k < x.size(); ++k)
      if (!same_target(x[k].get(), y[k].get()))
        return w + "." + name + "[" + std::to_string(k) + "]: points at another node than the original (sharing lost or changed)";
    return std::nullopt;
  };
  for (std::size_t i = 0; i < a.nodes.size(); ++i) {
    const GraphNode &x = *a.nodes[i], &y = *b.nodes[i];
    std::string w = at("graph.nodes", i);
    if (x.id != y.id) return w + ".id: " + std::to_string(x.id) + " became " + std::to_string(y.id);
    if (auto d = differ_double(w + ".weight", x.weight, y.weight)) return d;
    if (auto d = edges(w, "children", x.children, y.children)) return d;
    if (auto d = edges(w, "links", x.links, y.links)) return d;
    if (!same_target(x.parent.lock().get(), y.parent.lock().get())) return w + ".parent: the weak back-edge points elsewhere (or expired)";
  }
  return std::nullopt;
}

std::optional<std::string> difference(const Strings& a, const Strings& b) {
  if (a.items.size() != b.items.size())
    return "strings: " + std::to_string(a.items.size()) + " items became " + std::to_string(b.items.size());
  for (std::size_t i = 0; i < a.items.size(); ++i)
    if (auto d = differ_string(at("strings", i), a.items[i], b.items[i])) return d;
  return std::nullopt;
}

std::optional<std::string> difference(const Doubles& a, const Doubles& b) {
  if (a.values.size() != b.values.size())
    return "doubles: " + std::to_string(a.values.size()) + " values became " + std::to_string(b.values.size());
  for (std::size_t i = 0; i < a.values.size(); ++i)
    if (auto d = differ_double(at("doubles", i), a.values[i], b.values[i])) return d;
  return std::nullopt;
}

}  // namespace bench
