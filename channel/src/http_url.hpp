// The long-poll endpoint's URLs: the hub's "http://HOST:PORT[/PATH]" and the forward proxy's,
// and whether no_proxy exempts a host (longpoll.hpp, longpoll_options::http_proxy).
#pragma once

#include <string>
#include <string_view>

#include <xgate/base/url.hpp>

namespace xgate::channel::longpoll_wire {

// http://HOST[:PORT][/PATH], and https:// when https is allowed. Throws
// channel_error(protocol) naming what ("hub URL", "HTTP proxy") and why.
[[nodiscard]] xgate::url parse_http(std::string_view what, std::string_view url, bool https = false);

// Whether no_proxy names host: "*", the host itself, or a domain suffix (".example.org" or "example.org").
bool no_proxy_for(const std::string& host);

}  // namespace xgate::channel::longpoll_wire
