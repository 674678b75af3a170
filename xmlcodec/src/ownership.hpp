// Shared by encoder and decoder: which objects are owned, through shared_ptr edges, from
// the root (node 0). Both sides insist on it, so xgate never writes what it would refuse.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace xgate::detail {

inline std::vector<bool> owned_from_root(std::size_t nodes, const std::vector<std::pair<std::uint32_t, std::uint32_t>>& owns) {
  std::vector<std::vector<std::uint32_t>> edges(nodes);
  for (auto [from, to] : owns) edges[from].push_back(to);
  std::vector<bool> owned(nodes, false);
  std::vector<std::uint32_t> stack{0};
  owned[0] = true;
  while (!stack.empty()) {
    std::uint32_t k = stack.back();
    stack.pop_back();
    for (std::uint32_t to : edges[k])
      if (!owned[to]) owned[to] = true, stack.push_back(to);
  }
  return owned;
}

}  // namespace xgate::detail
