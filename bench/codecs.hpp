// The contenders that turn a workload into bytes and back. Each lives in its own
// translation unit (their headers and descriptions do not mix) and is instantiated for
// every workload type of workloads.hpp.
#pragma once

#include <memory>
#include <streambuf>
#include <string>
#include <string_view>

#include "workloads.hpp"

namespace bench {

// xgate::to_xml / xgate::from_xml with default options (indented output, strict decode).
struct xgate_codec {
  static constexpr std::string_view name = "xgate";
  template <class W>
  static std::string encode(const W& w);
  template <class W>
  static void decode(std::string_view in, W& out);
};

// boost::archive::xml_oarchive / xml_iarchive.
struct boost_xml_codec {
  static constexpr std::string_view name = "boost_xml";
  template <class W>
  static std::string encode(const W& w);
  template <class W>
  static void decode(std::string_view in, W& out);
};

// boost::archive::binary_oarchive / binary_iarchive (not XML: a speed reference).
struct boost_binary_codec {
  static constexpr std::string_view name = "boost_binary";
  template <class W>
  static std::string encode(const W& w);
  template <class W>
  static void decode(std::string_view in, W& out);
};

// cereal::XMLOutputArchive / XMLInputArchive.
struct cereal_xml_codec {
  static constexpr std::string_view name = "cereal_xml";
  template <class W>
  static std::string encode(const W& w);
  template <class W>
  static void decode(std::string_view in, W& out);
};

// Parse-only of a document into pugixml's DOM (flags in pugixml_parse.cpp): the floor for
// any decoder built on a DOM. Returns the number of element nodes (so the tree is walked
// once when checking, never in the timed loop).
std::size_t pugixml_parse_check(std::string_view xml);
// One timed parse: builds the DOM, leaves it to the caller to destroy (outside the clock).
class pugixml_parse {
 public:
  pugixml_parse();
  ~pugixml_parse();
  pugixml_parse(const pugixml_parse&) = delete;
  pugixml_parse& operator=(const pugixml_parse&) = delete;
  void parse(std::string_view xml);  // throws std::runtime_error when the document is malformed

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// Reads from memory without copying it (std::istringstream would copy the input first).
class memory_buffer : public std::streambuf {
 public:
  explicit memory_buffer(std::string_view bytes) {
    char* p = const_cast<char*>(bytes.data());
    setg(p, p, p + bytes.size());
  }
};

}  // namespace bench
