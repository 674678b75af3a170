// Text for messages and logs.
#pragma once

#include <string>
#include <string_view>

namespace xgate {

// text made safe to quote in a message: bytes outside 0x20..0x7e, '\\' and '"' as \xNN;
// clipped to 120 bytes with "..." after. Names and values from hostile input pass through
// here before they reach an error message or a log line.
[[nodiscard]] std::string printable(std::string_view text);

// A message as one line: each line break, with the indentation after it, becomes one space;
// trailing whitespace goes (for the
// "error: …" lines of the programs and the one-line errors of the wire).
[[nodiscard]] std::string one_line(std::string text);

// Lower-case hexadecimal of bytes ("0a1b...").
[[nodiscard]] std::string to_hex(std::string_view bytes);

}  // namespace xgate
