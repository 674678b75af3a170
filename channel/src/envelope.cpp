#include <xgate/base/text.hpp>
#include <xgate/channel/envelope.hpp>

#include <algorithm>
#include <charconv>

#include "random_hex.hpp"

#include <xgate/channel/error.hpp>
#include <xgate/store/credentials.hpp>
#include <xgate/store/names.hpp>

namespace xgate::channel {

namespace {
constexpr std::size_t stream_digits = 16;
constexpr std::size_t max_correlation = 512;

bool is_hex(std::string_view s) noexcept {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string quoted(std::string_view s) { return "\"" + xgate::printable(s) + "\""; }
}  // namespace

bool is_valid_endpoint(std::string_view name) noexcept { return xgate::store::is_valid_name(name); }

// A kind and a grant's method name follow one rule: a grant may list either.
bool is_valid_kind(std::string_view kind) noexcept { return xgate::store::is_valid_method(kind); }

std::string_view method_of_kind(std::string_view kind) noexcept {
  return kind.starts_with("call.") ? kind.substr(5) : kind;
}

bool kind_permitted(std::string_view kind, const std::vector<std::string>& methods) noexcept {
  if (methods.empty() || kind == "reply" || kind == "fault") return true;
  return std::binary_search(methods.begin(), methods.end(), method_of_kind(kind));
}

std::string new_stream() { return detail::random_hex(stream_digits / 2); }

std::string message_id(std::string_view from, std::string_view stream, std::uint64_t seq) {
  std::string id;
  id.reserve(from.size() + stream.size() + 22);
  id.append(from).append("/").append(stream).append("/").append(std::to_string(seq));
  return id;
}

std::string_view stream_of(const envelope& e) noexcept {
  std::string_view id = e.id;
  // FROM "/" 16 hex "/" decimal seq (no leading zeros): compare, do not parse loosely.
  if (id.size() < e.from.size() + 2 + stream_digits + 1 || !id.starts_with(e.from) || id[e.from.size()] != '/') return {};
  std::string_view rest = id.substr(e.from.size() + 1);
  if (rest[stream_digits] != '/') return {};
  std::string_view stream = rest.substr(0, stream_digits), seq = rest.substr(stream_digits + 1);
  if (!is_hex(stream) || seq.empty() || seq[0] == '0') return {};
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(seq.data(), seq.data() + seq.size(), n);
  if (ec != std::errc{} || p != seq.data() + seq.size() || n != e.seq) return {};
  return stream;
}

void check_envelope(const envelope& e) {
  auto fail = [&](const std::string& what) {
    throw channel_error(channel_errc::bad_envelope, "message " + quoted(e.id) + ": " + what);
  };
  if (!is_valid_endpoint(e.from)) fail("from " + quoted(e.from) + " is not a valid endpoint name");
  if (!is_valid_endpoint(e.to)) fail("to " + quoted(e.to) + " is not a valid endpoint name");
  if (!is_valid_kind(e.kind)) fail("kind " + quoted(e.kind) + " is not 1..64 of [A-Za-z0-9._-]");
  if (e.seq == 0) fail("seq 0 (not stamped)");
  if (stream_of(e).empty()) fail("id does not read FROM/STREAM/SEQ for from " + quoted(e.from) + ", seq " + std::to_string(e.seq));
  if (e.correlation.size() > max_correlation) fail("correlation longer than 512 bytes");
  for (char c : e.correlation)
    if (c < 0x21 || c > 0x7e) fail("correlation " + quoted(e.correlation) + " is not printable");
}

void check_sender(const envelope& e, std::string_view authenticated_endpoint) {
  if (e.from != authenticated_endpoint)
    throw channel_error(channel_errc::spoofed_sender, "message " + quoted(e.id) + " claims sender " + quoted(e.from) +
                                                          " on the link of " + quoted(authenticated_endpoint));
}

}  // namespace xgate::channel
