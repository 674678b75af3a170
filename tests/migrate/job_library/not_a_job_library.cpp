// A shared library, but no job library: no xgate_job_library entry point.
extern "C" __attribute__((visibility("default"))) int answer() { return 42; }
