// The long-poll endpoint's URLs: the hub's "http://HOST:PORT[/PATH]" and the forward proxy's,
// and whether no_proxy exempts a host (longpoll.hpp, longpoll_options::http_proxy).
#pragma once

#include <string>
#include <string_view>

namespace xgate::channel::longpoll_wire {

struct http_address {
  std::string host;  // without brackets
  unsigned short port = 80;
  std::string path;  // "/..." ("" when none was given)
  std::string authority() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
};

// Throws channel_error(protocol) naming what ("hub URL", "HTTP proxy") and why.
http_address parse_http(std::string_view what, std::string_view url);

// Whether no_proxy names host: "*", the host itself, or a domain suffix (".example.org" or "example.org").
bool no_proxy_for(const std::string& host);

}  // namespace xgate::channel::longpoll_wire
