// Random ids for the channel: stream ids, long-poll session ids, call ids, the hub's instance id.
#pragma once

#include <cstddef>
#include <string>

namespace xgate::channel::detail {

// n bytes of fresh randomness (libsodium) as 2n hex digits. Throws channel_error(protocol)
// when libsodium cannot be initialized.
std::string random_hex(std::size_t n);

}  // namespace xgate::channel::detail
