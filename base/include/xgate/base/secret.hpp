// A secret (a credential token, a password) kept in a file: its first line, from a file
// that only its owner may read or write, the way ssh treats private keys.
#pragma once

#include <filesystem>
#include <string>

namespace xgate {

struct secret_read_result {
  std::string value;    // the first line, trailing blanks removed
  std::string problem;  // empty when value holds the secret; else one line naming the file
};

// Reads path's first line. A problem, not a value, when the file cannot be read, when users
// other than its owner may read or write it ("secret file \"F\" may be read by others (mode
// 0644): chmod 600 F"), or when its first line is empty.
[[nodiscard]] secret_read_result read_secret_file(const std::filesystem::path& path);

// The whole file (a private key in PEM), under the same rule: a problem when others may read
// or write it, when it cannot be read, or when it is empty.
[[nodiscard]] secret_read_result read_secret_bytes(const std::filesystem::path& path);

}  // namespace xgate
