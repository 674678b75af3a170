#include <xgate/base/text.hpp>

namespace xgate {

namespace {
constexpr char hex_digits[] = "0123456789abcdef";
}

std::string printable(std::string_view text) {
  constexpr std::size_t clip = 120;
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < clip; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c <= 0x7e && c != '\\' && c != '"') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex_digits[c >> 4];
      out += hex_digits[c & 15];
    }
  }
  if (text.size() > clip) out += "...";
  return out;
}

std::string one_line(std::string text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n' && text[i] != '\r') {
      out += text[i];
      continue;
    }
    // A line break and the indentation after it (libpq's "…refused\n\tIs the server…").
    while (i + 1 < text.size() && (text[i + 1] == '\n' || text[i + 1] == '\r' || text[i + 1] == ' ' || text[i + 1] == '\t')) ++i;
    out += ' ';
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
  return out;
}

std::string to_hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += hex_digits[c >> 4];
    out += hex_digits[c & 15];
  }
  return out;
}

}  // namespace xgate
