#include <xgate/base/login_limit.hpp>

#include <unordered_map>

namespace xgate {

std::chrono::seconds login_limiter::blocked(const std::string& address, clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = by_address_.find(address);
  if (it == by_address_.end()) return std::chrono::seconds(0);
  clock::time_point until = it->second.since + window_;
  if (now >= until) {
    by_address_.erase(it);
    return std::chrono::seconds(0);
  }
  if (it->second.failures < max_) return std::chrono::seconds(0);
  return std::chrono::ceil<std::chrono::seconds>(until - now);
}

bool login_limiter::failed(const std::string& address, clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (by_address_.size() >= max_addresses)
    std::erase_if(by_address_, [&](const auto& e) { return now >= e.second.since + window_; });
  if (by_address_.size() >= max_addresses && !by_address_.contains(address)) return false;
  record& r = by_address_[address];
  if (r.failures == 0 || now >= r.since + window_) r = record{now, 0};
  return ++r.failures == max_;
}

std::string login_limiter::refusal(const std::string& address, std::chrono::seconds wait) const {
  return "too many failed logins from " + address + " (limit " + std::to_string(max_) + " in " + std::to_string(window_.count()) +
         " s); try again in " + std::to_string(wait.count()) + " s";
}

std::string login_limiter::reached(const std::string& address) const {
  return "failed logins from " + address + " reached the limit of " + std::to_string(max_) + " in " +
         std::to_string(window_.count()) + " s";
}

}  // namespace xgate
