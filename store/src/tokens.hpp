// Credential tokens: "xgt1_" + 32 random bytes in URL-safe base64. The store keeps only
// a token's hash; the first 8 bytes of the hash, in hex, are the credential's public id.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace xgate::store::tokens {

inline constexpr std::string_view prefix = "xgt1_";

// A fresh token. Throws store_error(bad_credential) when libsodium cannot initialize.
std::string make();
// (token_hash and credential_id_of_hash are public: credentials.hpp.)
// Compares two hashes in constant time.
bool same(std::string_view a, std::string_view b) noexcept;

}  // namespace xgate::store::tokens
