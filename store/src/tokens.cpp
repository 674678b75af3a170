#include "tokens.hpp"

#include <sodium.h>

#include <xgate/base/text.hpp>
#include <xgate/store/credentials.hpp>
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

bool same(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace xgate::store::tokens

namespace xgate::store {

std::string token_hash(std::string_view token) {
  if (sodium_init() < 0) throw store_error(store_errc::bad_credential, "hash token", "", "libsodium failed to initialize");
  std::string h(token_hash_bytes, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(h.data()), h.size(), reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  return h;
}

std::string credential_id_of_hash(std::string_view hash) { return to_hex(hash.substr(0, 8)); }

}  // namespace xgate::store
