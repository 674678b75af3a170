#include "http_url.hpp"

#include <charconv>
#include <cstdlib>

#include <xgate/channel/error.hpp>
#include <xgate/store/names.hpp>

namespace xgate::channel::longpoll_wire {

namespace {

[[noreturn]] void bad_url(std::string_view what, std::string_view url, std::string_view why) {
  throw channel_error(channel_errc::protocol, std::string(what) + " \"" + store::printable(url) + "\": " + std::string(why));
}

}  // namespace

http_address parse_http(std::string_view what, std::string_view url) {
  std::string_view rest = url;
  if (!rest.starts_with("http://")) bad_url(what, url, "expected http://HOST:PORT");
  rest.remove_prefix(7);
  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  http_address a;
  a.path = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  std::string_view port;
  if (authority.starts_with("[")) {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) bad_url(what, url, "unclosed [");
    a.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (authority.starts_with(":")) port = authority.substr(1);
    else if (!authority.empty()) bad_url(what, url, "bad address");
  } else {
    std::size_t colon = authority.rfind(':');
    a.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (a.host.empty()) bad_url(what, url, "no host");
  if (!port.empty()) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || p != port.data() + port.size() || v == 0 || v > 65535) bad_url(what, url, "bad port");
    a.port = static_cast<unsigned short>(v);
  }
  return a;
}

bool no_proxy_for(const std::string& host) {
  const char* np = std::getenv("no_proxy");
  if (!np) np = std::getenv("NO_PROXY");
  if (!np) return false;
  std::string_view list(np);
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    if (item == "*") return true;
    if (std::size_t c = item.rfind(':'); c != std::string_view::npos && item.find(']') == std::string_view::npos &&
                                         item.find(':') == c)
      item = item.substr(0, c);  // host:port: the port is not compared
    if (item.starts_with(".")) item.remove_prefix(1);
    if (host == item || (host.size() > item.size() && host.ends_with(item) && host[host.size() - item.size() - 1] == '.'))
      return true;
  }
  return false;
}

}  // namespace xgate::channel::longpoll_wire
