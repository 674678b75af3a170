// Types that already have a Boost.Serialization `serialize(Archive&, unsigned)` written with
// name-value pairs (BOOST_SERIALIZATION_NVP) are encoded through archive adapters
// (detail/boost_archive.hpp): each nvp becomes a child element named after it, encoded by
// xgate's own rules.
#pragma once

#include <type_traits>

namespace xgate {

// Opt in types whose existing Boost.Serialization `serialize` should be used. Detected by
// itself for a member serialize(Archive&, unsigned) and for a free serialize(Archive&, T&,
// unsigned) in T's namespace; specialize this (as std::true_type) for free functions in
// boost::serialization. Off (std::false_type) by default.
template <class T>
struct use_boost_serialization : std::false_type {};

}  // namespace xgate
