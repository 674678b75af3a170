// The benchmark workloads: plain C++ types, built once from a fixed seed, identical for
// every contender. Each type is described here for xgate; Boost.Serialization and cereal
// describe the same types in their own translation units (boost_codec.cpp, cereal_codec.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <xgate/reflect/reflect.hpp>

namespace bench {

// ---- records: 100k flat records -------------------------------------------------------
enum class Color { red, green, blue, cyan, magenta, yellow, black, white };
XGATE_ENUM(Color, red, green, blue, cyan, magenta, yellow, black, white)

struct Record {
  std::int64_t id = 0;
  double value = 0;
  bool flag = false;
  Color color = Color::red;
  std::string name;
  std::string tag;
};
XGATE_TYPE(Record, "bench.Record", 1, (), (id, value, flag, color, name, tag))

struct Records {
  std::vector<Record> items;
};
XGATE_TYPE(Records, "bench.Records", 1, (), (items))

// ---- tree: a balanced tree held by unique_ptr / vector ------------------------------------
struct TreeNode {
  std::int64_t key = 0;
  std::string label;
  std::vector<std::unique_ptr<TreeNode>> children;
};
XGATE_TYPE(TreeNode, "bench.TreeNode", 1, (), (key, label, children))

struct Tree {
  std::unique_ptr<TreeNode> root;
};
XGATE_TYPE(Tree, "bench.Tree", 1, (), (root))

// ---- graph: shared_ptr edges, shared targets, cycles through weak back-edges --------------
// The strong edges (children, links) form a DAG, so the graph frees itself; every node's
// weak `parent` points back up the tree edge that owns it, closing a cycle per node.
// `links` point at nodes that are not ancestors, so one node is held by many others.
struct GraphNode {
  std::int64_t id = 0;
  double weight = 0;
  std::vector<std::shared_ptr<GraphNode>> children;
  std::weak_ptr<GraphNode> parent;
  std::vector<std::shared_ptr<GraphNode>> links;
};
XGATE_TYPE(GraphNode, "bench.GraphNode", 1, (), (id, weight, children, parent, links))

struct Graph {
  std::vector<std::shared_ptr<GraphNode>> nodes;  // every node once, root first (depth-first preorder)
};
XGATE_TYPE(Graph, "bench.Graph", 1, (), (nodes))

// ---- strings: text that needs escaping ---------------------------------------------------
struct Strings {
  std::vector<std::string> items;
};
XGATE_TYPE(Strings, "bench.Strings", 1, (), (items))

// ---- doubles ----------------------------------------------------------------------------
struct Doubles {
  std::vector<double> values;
};
XGATE_TYPE(Doubles, "bench.Doubles", 1, (), (values))

// ---- building ------------------------------------------------------------------------
inline constexpr std::uint64_t seed = 20240603;

Records make_records(std::size_t count);
Tree make_tree(std::size_t nodes);
Graph make_graph(std::size_t nodes);
// with_nul: also the byte 0x00 among the control bytes (the `strings` workload); without,
// every other byte class is kept (`strings_no_nul`, for contenders that truncate at NUL).
Strings make_strings(std::size_t count, bool with_nul);
// with_specials: infinities and NaNs (with payloads, signs, signalling) among the values
// (the `doubles` workload); without, only finite values (`doubles_finite`).
Doubles make_doubles(std::size_t count, bool with_specials);

// ---- deep equality ------------------------------------------------------------------------
// Each returns the first difference found, described for a human, or nothing when equal.
// Doubles compare bit for bit (NaN payloads, the sign of zero); the graph compares the
// sharing structure: node i of one is node i of the other, through every pointer.
std::optional<std::string> difference(const Records& a, const Records& b);
std::optional<std::string> difference(const Tree& a, const Tree& b);
std::optional<std::string> difference(const Graph& a, const Graph& b);
std::optional<std::string> difference(const Strings& a, const Strings& b);
std::optional<std::string> difference(const Doubles& a, const Doubles& b);

}  // namespace bench
