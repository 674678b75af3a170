// Document names are hierarchical: segments separated by '/', e.g. "results/job-17/final".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <xgate/base/text.hpp>

namespace xgate::store {

// LMDB keys are at most 511 bytes by default; stay well inside that.
inline constexpr std::size_t max_name_bytes = 400;

// Non-empty, at most max_name_bytes, printable ASCII without spaces (0x21..0x7e), no empty
// segments (no leading, trailing or doubled '/'), no "." or ".." segments.
bool is_valid_name(std::string_view name) noexcept;
// Throws store_error(bad_name) naming the operation when the name is not valid.
void check_name(std::string_view operation, std::string_view name);
// A prefix is "" (everything) or a valid name; a trailing '/' is accepted and ignored.
// Returns the prefix without the trailing '/'.
std::string_view check_prefix(std::string_view operation, std::string_view prefix);
// A short identifier (a grant's method name, an index id): 1 to 64 bytes of [A-Za-z0-9._-].
bool is_valid_identifier(std::string_view text) noexcept;
// Whether name lies under prefix, segment-wise: "a/b" is under "a" and "a/b", not under "a/bc".
bool is_under(std::string_view name, std::string_view prefix) noexcept;
using xgate::printable;  // names are quoted in messages through it

}  // namespace xgate::store
