#include "longpoll_wire.hpp"

#include <charconv>
#include <string>

#include <xgate/channel/error.hpp>

namespace xgate::channel::longpoll_wire {

std::uint64_t header_number(const http::fields& f, const char* name) {
  auto it = f.find(name);
  if (it == f.end()) return 0;
  std::string_view v(it->value().data(), it->value().size());
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size()) throw channel_error(channel_errc::protocol, std::string("header ") + name + ": not a number");
  return n;
}

bool header_flag(const http::fields& f, const char* name) {
  auto it = f.find(name);
  return it != f.end() && it->value() == "1";
}

std::string_view header_text(const http::fields& f, const char* name) {
  auto it = f.find(name);
  if (it == f.end()) return {};
  return {it->value().data(), it->value().size()};
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool accept_bundle(std::uint64_t first, std::vector<frame>& frames, std::uint64_t& received, std::vector<frame>& out) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    std::uint64_t seq = first + i;
    if (seq <= received) continue;
    if (seq != received + 1) return false;
    out.push_back(std::move(frames[i]));
    received = seq;
  }
  return true;
}

}  // namespace xgate::channel::longpoll_wire
