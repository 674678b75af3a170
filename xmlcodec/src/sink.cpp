#include <ostream>

#include <xgate/xmlcodec/error.hpp>
#include <xgate/xmlcodec/sink.hpp>

namespace xgate {
void ostream_sink::write(const char* data, std::size_t size) {
  os_.write(data, static_cast<std::streamsize>(size));
  if (!os_) throw error(errc::io_error, "writing the document to the output stream failed");
}
}  // namespace xgate
