// The commands over the codec's registry: types, schema, keygen, sample, check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace xgate::xgate_cli {

int run_types();
int run_schema(const std::string& type);

struct keygen_args {
  std::string name, dir = ".";
  bool force = false;
};
int run_keygen(const keygen_args& a);

struct sample_args {
  std::string type;
  std::uint64_t seed = 1;
  std::size_t count = 10;
  std::optional<std::string> creator, read, write, del, copy, sign;
};
int run_sample(const sample_args& a);

struct check_args {
  std::string file, type, principal, mode = "read";
  std::optional<std::string> pub;
  bool lenient = false;
};
int run_check(const check_args& a);

}  // namespace xgate::xgate_cli
