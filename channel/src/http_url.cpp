#include "http_url.hpp"

#include <cstdlib>

#include <xgate/channel/error.hpp>
#include <xgate/base/text.hpp>
#include <xgate/base/url.hpp>

namespace xgate::channel::longpoll_wire {

namespace {

[[noreturn]] void bad_url(std::string_view what, std::string_view url, std::string_view why) {
  throw channel_error(channel_errc::protocol, std::string(what) + " \"" + xgate::printable(url) + "\": " + std::string(why));
}

}  // namespace

xgate::url parse_http(std::string_view what, std::string_view url, bool https) {
  url_parse_result r = https ? parse_url(url, {{"http", 80}, {"https", 443}}, url_path::allowed)
                             : parse_url(url, {{"http", 80}}, url_path::allowed);
  if (!r) bad_url(what, url, r.problem);
  return std::move(*r.value);
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
