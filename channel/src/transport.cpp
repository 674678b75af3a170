#include <xgate/channel/transport.hpp>

#include <xgate/channel/longpoll.hpp>
#include <xgate/store/names.hpp>

namespace xgate::channel {

std::unique_ptr<transport> make_transport(std::string_view url, const transport_options& options) {
  if (url.starts_with("tcp://")) return make_tcp_transport(url, options);
  if (url.starts_with("http://")) return make_http_transport(url, options);  // long-poll (longpoll.hpp)
  throw channel_error(channel_errc::protocol, "hub URL \"" + store::printable(url) +
                                                  "\": unknown scheme (expected tcp://HOST:PORT or http://HOST:PORT)");
}

}  // namespace xgate::channel
