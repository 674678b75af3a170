// A job library built against another xgate: its entry point says so (as one of 0.0.9 would).
#include <xgate/migrate/job_library.hpp>

extern "C" __attribute__((visibility("default"))) const xgate::migrate::job_library_info* xgate_job_library() {
  static const xgate::migrate::job_library_info info{xgate::migrate::job_library_magic, 7, "0.0.9",
                                                     xgate::migrate::detail::toolchain, nullptr};
  return &info;
}
