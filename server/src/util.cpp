#include "util.hpp"

#include <cstdio>
#include <ctime>

namespace xgate::server::detail {

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
constexpr char hex_digits[] = "0123456789ABCDEF";
}  // namespace

void escape_into(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\t': out += "&#9;"; break;
      case '\n': out += "&#10;"; break;
      case '\r': out += "&#13;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) out += "\xEF\xBF\xBD";
        else out += c;
    }
  }
}

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  escape_into(out, s);
  return out;
}

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<query_params> parse_query(std::string_view q, bool plus_is_space) {
  query_params out;
  while (!q.empty()) {
    std::size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty()) continue;
    std::size_t eq = part.find('=');
    auto key = percent_decode(part.substr(0, eq), plus_is_space);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1), plus_is_space);
    if (!key || !value || key->empty()) return std::nullopt;
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

std::optional<std::uint64_t> parse_uint(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::string header_safe(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

std::string log_safe(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      out += '%';
      out += hex_digits[u >> 4];
      out += hex_digits[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

constexpr std::string_view redacted = "REDACTED";

bool unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
         c == '~';
}
// The alphabet of tokens: base64url (xgt1_ + 43 characters), which also covers hex.
bool token_char(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'; }

// A run this long of token characters is taken for a secret: a token's random part is 43,
// hex keys and hashes are 32 or more. A document name segment that long is redacted too;
// a log line that says less is the safe side.
constexpr std::size_t token_run = 32;

std::string decode_unreserved(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      char c = static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      if (unreserved(c)) {
        out += c;
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

bool names_a_token(std::string_view key) {
  std::string lower;
  for (char c : key) lower += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return lower.find("token") != std::string::npos;
}

// Every run of token characters that is long or starts like a token ("xgt1_") -> REDACTED.
std::string redact_runs(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (!token_char(s[i])) {
      out += s[i++];
      continue;
    }
    std::size_t end = i;
    while (end < s.size() && token_char(s[end])) ++end;
    std::string_view run = s.substr(i, end - i);
    bool secret = run.size() >= token_run || run.find("xgt1_") != std::string_view::npos;
    out += secret ? redacted : run;
    i = end;
  }
  return out;
}

}  // namespace

std::string redact_target(std::string_view target) {
  std::string t = decode_unreserved(target);
  std::size_t q = t.find('?');
  std::string out = t.substr(0, q);
  if (q != std::string::npos) {
    out += '?';
    std::string_view query = std::string_view(t).substr(q + 1);
    bool first = true;
    while (true) {
      std::size_t amp = query.find('&');
      std::string_view part = query.substr(0, amp);
      if (!first) out += '&';
      first = false;
      std::size_t eq = part.find('=');
      if (eq != std::string_view::npos && names_a_token(percent_decode(part.substr(0, eq)).value_or(std::string(part.substr(0, eq)))))
        out += std::string(part.substr(0, eq + 1)) + std::string(redacted);
      else
        out += part;
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  return log_safe(redact_runs(out));
}

}  // namespace xgate::server::detail
