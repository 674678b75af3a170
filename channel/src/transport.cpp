#include <xgate/channel/transport.hpp>

#include <xgate/channel/longpoll.hpp>
#include <xgate/channel/xmpp.hpp>
#include <xgate/base/text.hpp>

namespace xgate::channel {

std::unique_ptr<transport> make_transport(std::string_view url, const transport_options& options) {
  if (url.starts_with("tcp://") || url.starts_with("tls://")) return make_tcp_transport(url, options);
  if (url.starts_with("http://") || url.starts_with("https://")) return make_http_transport(url, options);  // long-poll (longpoll.hpp)
  // An XMPP account needs its password, which only the endpoint has: it calls
  // make_xmpp_transport itself (endpoint.cpp).
  if (url.starts_with("xmpp://"))
    throw channel_error(channel_errc::bad_auth, "hub URL \"" + xgate::printable(url) +
                                                    "\": an XMPP account needs its password: use make_xmpp_transport (xmpp.hpp), "
                                                    "or an endpoint with the password as its secret");
  throw channel_error(channel_errc::protocol, "hub URL \"" + xgate::printable(url) +
                                                  "\": unknown scheme (expected tcp://HOST:PORT, tls://HOST:PORT, http(s)://HOST:PORT or xmpp://USER@DOMAIN[:PORT])");
}

}  // namespace xgate::channel
