// Hex text for the channel's ids and digests: stream ids, long-poll session ids, call ids,
// the hub's instance id and its body digests.
#pragma once

#include <cstddef>
#include <string>

namespace xgate::channel::detail {

// Two lowercase hex digits per byte.
std::string to_hex(const unsigned char* bytes, std::size_t n);
// n bytes of fresh randomness (libsodium) as 2n hex digits. Throws channel_error(protocol)
// when libsodium cannot be initialized.
std::string random_hex(std::size_t n);

}  // namespace xgate::channel::detail
