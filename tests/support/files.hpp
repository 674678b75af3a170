// Files in tests: a whole log or output file as a string; secret files.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace xgate::testing {

// The bytes of p; "" when it cannot be read (a log not written yet).
inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A secret file as xgate expects one: text, mode 0600 (xgate::read_secret_file refuses
// files others may read).
inline void write_secret_file(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::remove(p);
  std::ofstream(p) << text;
  std::filesystem::permissions(p, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

}  // namespace xgate::testing
