#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include <xgate/xmlcodec/rights.hpp>

namespace xgate {

class signing_key;
class verify_key;

// What a decoding principal asks for: the document's read or its write right.
enum class access_mode { read, write };

// What a reader accepts; beyond either, decoding refuses the document (errc::too_large,
// errc::too_deep) before building anything.
struct limits {
  std::size_t max_bytes = std::size_t{256} << 20;  // the whole document; default 256 MiB
  std::size_t max_depth = 256;                     // element nesting; default 256
};

// How to_xml writes. The defaults give an indented, unsigned document without rights.
struct encode_options {
  int indent = 2;                              // spaces per level (default 2); 0 writes one line
  bool declaration = true;                     // <?xml version="1.0" encoding="UTF-8"?> first (default on)
  std::optional<xgate::rights> rights;         // written as <xg:rights .../>; default none (open to all)
  const signing_key* sign = nullptr;           // appends <xg:signature .../>; default nullptr: unsigned
  std::size_t max_depth = limits{}.max_depth;  // refuse to write what readers would refuse (default 256)
};

// How from_xml reads. The defaults decode as an anonymous reader, strictly, without
// checking a signature.
struct decode_options {
  std::string principal;                       // who decodes; default empty = anonymous (matches only "*")
  access_mode mode = access_mode::read;        // the right checked against the document's rights (default read)
  const verify_key* verify = nullptr;          // when set, the document must carry a valid signature (default nullptr)
  // Unknown fields, and fields missing from a document of the type's current version, are
  // errors (default); false skips the unknown ones and leaves the missing ones as they are.
  bool strict = true;
  xgate::limits limits{};                      // size and nesting bounds (defaults 256 MiB, 256)
  std::string document_name = "<input>";       // the document's name in error messages (default "<input>")
};

}  // namespace xgate
