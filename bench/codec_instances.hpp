// Explicit instantiations of a codec's encode/decode for every workload type.
#pragma once

#define BENCH_INSTANTIATE_CODEC(Codec)                                      \
  template std::string Codec::encode(const Records&);                      \
  template std::string Codec::encode(const Tree&);                         \
  template std::string Codec::encode(const Graph&);                        \
  template std::string Codec::encode(const Strings&);                      \
  template std::string Codec::encode(const Doubles&);                      \
  template void Codec::decode(std::string_view, Records&);                 \
  template void Codec::decode(std::string_view, Tree&);                    \
  template void Codec::decode(std::string_view, Graph&);                   \
  template void Codec::decode(std::string_view, Strings&);                 \
  template void Codec::decode(std::string_view, Doubles&);
