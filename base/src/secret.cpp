#include <xgate/base/secret.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

namespace xgate {

namespace {

// Why path may not hold a secret (it cannot be stat'ed, or users other than its owner may
// read or write it); empty when it may.
std::string mode_problem(const std::filesystem::path& path, const std::string& name) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return name + " cannot be read (" + std::strerror(errno) + ")";
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return name + " may be read by others (mode " + mode + "): chmod 600 " + path.string();
  }
  return {};
}

}  // namespace

secret_read_result read_secret_bytes(const std::filesystem::path& path) {
  const std::string name = "secret file \"" + path.string() + "\"";
  if (std::string p = mode_problem(path, name); !p.empty()) return {{}, std::move(p)};
  std::ifstream in(path, std::ios::binary);
  if (!in) return {{}, name + " cannot be read"};
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.empty()) return {{}, name + " is empty"};
  return {std::move(bytes), {}};
}

secret_read_result read_secret_file(const std::filesystem::path& path) {
  const std::string name = "secret file \"" + path.string() + "\"";
  if (std::string p = mode_problem(path, name); !p.empty()) return {{}, std::move(p)};
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return {{}, name + " cannot be read (or is empty)"};
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
  if (line.empty()) return {{}, name + ": the first line is empty"};
  return {std::move(line), {}};
}

}  // namespace xgate
