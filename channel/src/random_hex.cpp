#include "random_hex.hpp"

#include <vector>

#include <sodium.h>

#include <xgate/base/text.hpp>
#include <xgate/channel/error.hpp>

namespace xgate::channel::detail {

std::string random_hex(std::size_t n) {
  if (sodium_init() < 0) throw channel_error(channel_errc::protocol, "libsodium failed to initialize");
  std::vector<unsigned char> random(n);
  randombytes_buf(random.data(), n);
  return xgate::to_hex({reinterpret_cast<const char*>(random.data()), n});
}

}  // namespace xgate::channel::detail
