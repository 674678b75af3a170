// The contender under test: xgate with default options.
#include <xgate/xmlcodec.hpp>

#include "codec_instances.hpp"
#include "codecs.hpp"

namespace bench {

template <class W>
std::string xgate_codec::encode(const W& w) {
  return xgate::to_xml(w);
}

template <class W>
void xgate_codec::decode(std::string_view in, W& out) {
  xgate::from_xml(in, out);
}

BENCH_INSTANTIATE_CODEC(xgate_codec)

}  // namespace bench
