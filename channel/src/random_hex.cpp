#include "random_hex.hpp"

#include <vector>

#include <sodium.h>

#include <xgate/channel/error.hpp>

namespace xgate::channel::detail {

std::string to_hex(const unsigned char* bytes, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    s += digits[bytes[i] >> 4];
    s += digits[bytes[i] & 15];
  }
  return s;
}

std::string random_hex(std::size_t n) {
  if (sodium_init() < 0) throw channel_error(channel_errc::protocol, "libsodium failed to initialize");
  std::vector<unsigned char> random(n);
  randombytes_buf(random.data(), n);
  return to_hex(random.data(), n);
}

}  // namespace xgate::channel::detail
