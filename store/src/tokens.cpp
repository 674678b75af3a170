#include "tokens.hpp"

#include <sodium.h>

#include <xgate/store/error.hpp>

namespace xgate::store::tokens {

std::string make() {
  if (sodium_init() < 0) throw store_error(store_errc::bad_credential, "issue credential", "", "libsodium failed to initialize");
  unsigned char random[32];
  randombytes_buf(random, sizeof random);
  char text[sodium_base64_ENCODED_LEN(sizeof random, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(text, sizeof text, random, sizeof random, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(random, sizeof random);
  return std::string(prefix) + text;
}

std::string hash(std::string_view token) {
  std::string h(hash_bytes, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(h.data()), h.size(), reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  return h;
}

std::string id_of(std::string_view hash) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string id;
  for (std::size_t i = 0; i < 8; ++i) {
    auto b = static_cast<unsigned char>(hash[i]);
    id += digits[b >> 4];
    id += digits[b & 15];
  }
  return id;
}

bool same(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace xgate::store::tokens
