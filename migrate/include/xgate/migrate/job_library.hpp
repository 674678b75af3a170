// Job libraries: job types in a shared library that a node loads at start
// (`migrate node --jobs libmy_jobs.so`), so that no node program of one's own is needed.
//
// A job library is the job files (XGATE_JOB as usual) plus one line in one of them —
//
//   XGATE_JOB_LIBRARY()
//
// — built as a MODULE against the installed package (xgate_add_job_library in CMake does
// both: examples/out-of-tree/). It carries its own copy of the xgate code it uses (static,
// hidden), so it loads into any node program of the same xgate version and C++ ABI; any
// other version or ABI is refused before one of its types is used, with a message saying
// which it was built against.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <xgate/migrate/job.hpp>
#include <xgate/version.hpp>

namespace xgate::migrate {

// What a job library says about itself (plain C layout: read before anything else is
// trusted). Bump job_library_abi when job_type, job_context, checkpoint_header or the codec
// options change layout or meaning within one xgate version.
inline constexpr std::uint32_t job_library_magic = 0x78676a6c;  // "xgjl"
inline constexpr std::uint32_t job_library_abi = 1;
struct job_library_info {
  std::uint32_t magic;
  std::uint32_t abi;
  const char* version;    // the xgate version it was built against
  const char* toolchain;  // the C++ ABI: detail::toolchain
  const job_registry* jobs;
};

namespace detail {
#define XGATE_DETAIL_STR2(x) #x
#define XGATE_DETAIL_STR(x) XGATE_DETAIL_STR2(x)
inline constexpr const char* toolchain =
    "gxx-abi " XGATE_DETAIL_STR(__GXX_ABI_VERSION) " cxx11-abi " XGATE_DETAIL_STR(_GLIBCXX_USE_CXX11_ABI);
}  // namespace detail

// Loads the job library at path and adds its types to `into` (each job_type::library set to
// path); returns the types added. migrate_error(bad_plugin) when it cannot be loaded, is not
// a job library, was built against another xgate version or ABI, or brings a type `into`
// already has. A loaded library stays loaded for the life of the process.
std::vector<const job_type*> load_job_library(const std::string& path, job_registry& into);

}  // namespace xgate::migrate

// The library's entry point: at namespace scope, once, in one file of a job library.
#define XGATE_JOB_LIBRARY()                                                                            \
  extern "C" __attribute__((visibility("default"))) const ::xgate::migrate::job_library_info*        \
  xgate_job_library() {                                                                                \
    static const ::xgate::migrate::job_library_info info{                                              \
        ::xgate::migrate::job_library_magic, ::xgate::migrate::job_library_abi, XGATE_VERSION_STRING,  \
        ::xgate::migrate::detail::toolchain, &::xgate::migrate::job_registry::global()};                \
    return &info;                                                                                      \
  }
