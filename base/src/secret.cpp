#include <xgate/base/secret.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace xgate {

secret_read_result read_secret_file(const std::filesystem::path& path) {
  const std::string name = "secret file \"" + path.string() + "\"";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {{}, name + " cannot be read (" + std::strerror(errno) + ")"};
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return {{}, name + " may be read by others (mode " + mode + "): chmod 600 " + path.string()};
  }
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return {{}, name + " cannot be read (or is empty)"};
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
  if (line.empty()) return {{}, name + ": the first line is empty"};
  return {std::move(line), {}};
}

}  // namespace xgate
