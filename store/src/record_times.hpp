// How the engines keep times: nanoseconds since 1970, exactly what the store compares.
#pragma once

#include <chrono>
#include <cstdint>

#include <xgate/store/store.hpp>

namespace xgate::store {

inline std::int64_t to_ns(clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
inline clock::time_point from_ns(std::int64_t ns) {
  return clock::time_point(std::chrono::duration_cast<clock::duration>(std::chrono::nanoseconds(ns)));
}

}  // namespace xgate::store
