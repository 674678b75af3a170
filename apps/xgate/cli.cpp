#include "cli.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <system_error>

#include <xgate/xmlcodec/error.hpp>

namespace fs = std::filesystem;

namespace xgate::xgate_cli {

std::string read_input(const std::string& path) {
  std::ostringstream s;
  if (path == "-") {
    s << std::cin.rdbuf();
    if (std::cin.bad()) throw usage_error("cannot read standard input");
    return s.str();
  }
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw usage_error("cannot read \"" + path + "\": it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw usage_error("cannot read \"" + path + "\"");
  s << in.rdbuf();
  if (in.bad()) throw usage_error("cannot read \"" + path + "\"");
  return s.str();
}

void write_stdout(const std::string& text) {
  std::cout << text;
  if (!std::cout.flush()) throw xgate::error(xgate::errc::io_error, "writing to standard output failed");
}

}  // namespace xgate::xgate_cli
