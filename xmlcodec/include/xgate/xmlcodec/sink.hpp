#pragma once

#include <cstddef>
#include <iosfwd>
#include <string>

namespace xgate {

// Where encoded bytes go. One method, like pugixml's xml_writer, so output can land anywhere.
class xml_sink {
 public:
  virtual void write(const char* data, std::size_t size) = 0;
  virtual ~xml_sink() = default;
};

class ostream_sink final : public xml_sink {
 public:
  explicit ostream_sink(std::ostream& os) : os_(os) {}
  void write(const char* data, std::size_t size) override;  // throws error(io_error) when the stream fails

 private:
  std::ostream& os_;
};

}  // namespace xgate
