// Failed logins counted by client address, for servers that must slow down someone guessing
// tokens (xgated's HTTP API, the channel hub): past `max` failures within a window that
// begins with an address's first failure, the address is refused until the window ends.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace xgate {

class login_limiter {
 public:
  using clock = std::chrono::steady_clock;
  login_limiter(std::size_t max, std::chrono::seconds window) : max_(max), window_(window) {}
  // How long address must wait before its logins are looked at again; zero: not at all.
  [[nodiscard]] std::chrono::seconds blocked(const std::string& address, clock::time_point now = clock::now());
  // Counts a failure of address; true when it is the one that reaches the limit (say so once).
  bool failed(const std::string& address, clock::time_point now = clock::now());
  [[nodiscard]] std::size_t max() const noexcept { return max_; }
  [[nodiscard]] std::chrono::seconds window() const noexcept { return window_; }
  // "too many failed logins from ADDRESS (limit N in W s); try again in S s"
  [[nodiscard]] std::string refusal(const std::string& address, std::chrono::seconds wait) const;
  // "failed logins from ADDRESS reached the limit of N in W s"
  [[nodiscard]] std::string reached(const std::string& address) const;

  // Addresses remembered at most (a scan from many addresses; ended windows go first).
  static constexpr std::size_t max_addresses = 65536;

 private:
  struct record {
    clock::time_point since;  // the first failure of the window
    std::size_t failures = 0;
  };
  std::mutex mutex_;
  std::unordered_map<std::string, record> by_address_;
  std::size_t max_;
  std::chrono::seconds window_;
};

}  // namespace xgate
