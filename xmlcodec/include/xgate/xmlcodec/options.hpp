#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include <xgate/xmlcodec/rights.hpp>

namespace xgate {

class signing_key;
class verify_key;

enum class access_mode { read, write };

struct limits {
  std::size_t max_bytes = std::size_t{256} << 20;  // whole document
  std::size_t max_depth = 256;                     // element nesting
};

struct encode_options {
  int indent = 2;                              // spaces per level; 0 writes one line
  bool declaration = true;                     // <?xml version="1.0" encoding="UTF-8"?>
  std::optional<xgate::rights> rights;         // written as <xg:rights .../>
  const signing_key* sign = nullptr;           // appends <xg:signature .../>
  std::size_t max_depth = limits{}.max_depth;  // refuse to write what readers would refuse
};

struct decode_options {
  std::string principal;                       // who decodes; empty = anonymous (matches only "*")
  access_mode mode = access_mode::read;
  const verify_key* verify = nullptr;          // when set, the document must carry a valid signature
  bool strict = true;                          // unknown fields are errors (lenient: skipped)
  xgate::limits limits{};
  std::string document_name = "<input>";       // used in error messages
};

}  // namespace xgate
