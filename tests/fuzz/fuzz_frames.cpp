// libFuzzer target: arbitrary bytes into the channel's frame decoders (built from
// tests/channel/CMakeLists.txt when XGATE_FUZZ=ON with clang).
//
// The input is decoded three ways: as one payload, as a long-poll bundle, and as a TCP
// stream fed to frame_reader in two pieces split at a point the first byte chooses. The
// decoders may refuse only by throwing channel_error; anything else (another exception, a
// crash, an over-read, a leak) is a finding. Invariant: a frame that decodes re-encodes to
// bytes that decode to an equal frame.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <xgate/channel/frame.hpp>

namespace {
using namespace xgate::channel;
constexpr std::size_t max_frame = 64 * 1024;

void check_roundtrip(const frame& f) {
  if (decode_payload(encode_payload(f), SIZE_MAX) != f) {
    std::fprintf(stderr, "fuzz_frames: %s frame does not survive re-encoding\n", kind_name(f));
    std::abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  try {
    check_roundtrip(decode_payload(in, max_frame));
  } catch (const channel_error&) {
  }
  try {
    for (const frame& f : decode_bundle(in, max_frame, 256)) check_roundtrip(f);
  } catch (const channel_error&) {
  }
  try {
    frame_reader r(max_frame);
    std::size_t cut = size ? data[0] % (size + 1) : 0;
    r.feed(in.substr(0, cut));
    while (auto f = r.next()) check_roundtrip(*f);
    r.feed(in.substr(cut));
    while (auto f = r.next()) check_roundtrip(*f);
  } catch (const channel_error&) {
  }
  return 0;
}
